/** The request gave up (the client went away) before a slot was free. */
export class SlotWaitAborted extends Error {
  constructor() {
    super("the request was cancelled while it waited for a free sequence");
    this.name = "SlotWaitAborted";
  }
}

interface Waiter<T> {
  resolve: (slot: T) => void;
  reject: (error: Error) => void;
}

/**
 * A fixed set of slots (llama.cpp sequences) handed out one per request; requests beyond them
 * wait first-in first-out, as llama-server's `--parallel` slots do.
 */
export class SlotPool<T> {
  private readonly free: T[];
  private readonly waiting: Waiter<T>[] = [];

  constructor(private readonly slots: readonly T[]) {
    this.free = [...slots];
  }

  get size(): number {
    return this.slots.length;
  }

  get inUse(): number {
    return this.slots.length - this.free.length;
  }

  get queueDepth(): number {
    return this.waiting.length;
  }

  /** A slot now, or when one frees up; rejects with SlotWaitAborted if `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(new SlotWaitAborted());
    const slot = this.waiting.length === 0 ? this.free.pop() : undefined;
    if (slot !== undefined) return Promise.resolve(slot);
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        resolve: (taken) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(taken);
        },
        reject,
      };
      const onAbort = () => {
        const at = this.waiting.indexOf(waiter);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(new SlotWaitAborted());
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  release(slot: T): void {
    const next = this.waiting.shift();
    if (next) next.resolve(slot);
    else this.free.push(slot);
  }
}
