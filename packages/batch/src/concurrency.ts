/**
 * How many requests a batch keeps in flight: additive increase while latency holds, a
 * multiplicative cut when the server pushes back (429, 503, timeouts) or latency climbs well
 * above the best seen. Decisions are made once per window of `limit` answers, so one slow
 * answer does not swing it and the limit moves at most once per round trip of the window.
 */
export class AdaptiveConcurrency {
  private current: number;
  private best = Number.POSITIVE_INFINITY;
  private samples: number[] = [];
  private overloaded = false;

  constructor(
    initial: number,
    private ceiling: number,
    private readonly options = { tolerance: 2, backoff: 0.7, floor: 1 },
  ) {
    this.current = Math.max(options.floor, Math.min(initial, ceiling));
  }

  get limit(): number {
    return this.current;
  }

  /** The cap moves with the number of live replicas (and the share left to interactive users). */
  setCeiling(ceiling: number): void {
    this.ceiling = Math.max(this.options.floor, ceiling);
    if (this.current > this.ceiling) this.current = this.ceiling;
  }

  /** An answer (any status the server chose to give) after `latencyMs`. */
  success(latencyMs: number): void {
    this.samples.push(latencyMs);
    if (this.samples.length >= this.current) this.decide();
  }

  /** The server pushed back (429/503), or the request timed out or could not connect. */
  overload(): void {
    this.overloaded = true;
    this.samples.push(Number.POSITIVE_INFINITY);
    if (this.samples.length >= Math.max(1, Math.floor(this.current / 4))) this.decide();
  }

  private decide(): void {
    const sorted = this.samples.sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] as number;
    this.samples = [];
    if (this.overloaded) {
      this.overloaded = false;
      this.current = Math.max(this.options.floor, Math.floor(this.current * this.options.backoff));
      return;
    }
    // The best median drifts up slowly, so a server that got slower for good is relearned.
    this.best = Math.min(this.best * 1.05, median);
    if (median > this.best * this.options.tolerance + 5) {
      this.current = Math.max(this.options.floor, Math.floor(this.current * this.options.backoff));
    } else if (this.current < this.ceiling) {
      this.current = Math.min(this.ceiling, this.current + Math.max(1, Math.floor(this.current / 8)));
    }
  }
}
