/** A waiting request: `start` runs when a slot frees up, unless it was cancelled first. */
export interface Waiter {
  start: () => void;
}

/**
 * Sequence slots: at most `max` requests generate at once; the rest wait first-in first-out,
 * like vLLM's scheduler when `max_num_seqs` is reached.
 */
export class SequenceSlots {
  private running = 0;
  private readonly waiting: Waiter[] = [];

  constructor(private readonly max: number) {}

  get inFlight(): number {
    return this.running;
  }

  get queueDepth(): number {
    return this.waiting.length;
  }

  /** Take a slot now if one is free and nobody is ahead in the queue. */
  tryAcquire(): boolean {
    if (this.running < this.max && this.waiting.length === 0) {
      this.running++;
      return true;
    }
    return false;
  }

  /** Wait for a slot; `waiter.start` runs holding it. */
  enqueue(waiter: Waiter): void {
    this.waiting.push(waiter);
  }

  /** Leave the queue; false when the waiter already got its slot (or was never queued). */
  cancel(waiter: Waiter): boolean {
    const i = this.waiting.indexOf(waiter);
    if (i < 0) return false;
    this.waiting.splice(i, 1);
    return true;
  }

  release(): void {
    this.running--;
    while (this.running < this.max && this.waiting.length > 0) {
      const next = this.waiting.shift() as Waiter;
      this.running++;
      next.start();
    }
  }
}
