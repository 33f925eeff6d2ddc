/**
 * Why a run stops before its input is done: a cancel, its expiry, the worker shutting down
 * (`stop`: checkpoint and leave it to resume), or its lock lost (`lost`: another worker may
 * own it, nothing more may be written).
 */
export type Interruption = "cancel" | "expire" | "stop" | "lost";

/**
 * The interruption a run has after `reason` arrives while it has `current`, or undefined when
 * nothing changes: a stop never overrides a cancel or expiry already under way; losing the
 * lock overrides all.
 */
export function nextInterruption(current: Interruption | undefined, reason: Interruption): Interruption | undefined {
  if (current === "lost" || current === reason) return undefined;
  if (current && reason === "stop") return undefined;
  return reason;
}

/** A run's interruption: its reason, a signal for its waits, and listeners that abort what is in flight. */
export class Interrupts {
  private current: Interruption | undefined;
  private readonly controller = new AbortController();
  private readonly listeners = new Set<(why: Error) => void>();

  get reason(): Interruption | undefined {
    return this.current;
  }

  /** Aborted at the first interruption: wakes every wait of the run. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Another worker may own the batch: nothing more may be written (a method, so checks after awaits are not narrowed away). */
  isLost(): boolean {
    return this.current === "lost";
  }

  interrupt(reason: Interruption): void {
    const next = nextInterruption(this.current, reason);
    if (!next) return;
    this.current = next;
    this.controller.abort();
    const why = new Error(
      `the batch was ${next === "cancel" ? "cancelled" : next === "expire" ? "expired" : "stopped"}`,
    );
    for (const listener of this.listeners) listener(why);
  }

  /** Called at every interruption with its reason as an error; returns the unsubscribe. */
  onInterrupt(listener: (why: Error) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
