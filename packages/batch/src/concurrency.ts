/**
 * How many requests a batch keeps in flight. It grows while latency holds near the best seen,
 * holds when latency rises, steps down when latency is far above the best, and is cut hard
 * when the server pushes back (429, 503, timeouts, refused connections). Decisions are made
 * once per window of `limit` answers, so one slow answer (or a pause of our own process) does
 * not swing it. The absolute slack keeps sub-millisecond servers (the simulator) from reading
 * scheduling noise as overload; real model servers answer in hundreds of milliseconds.
 */
export class AdaptiveConcurrency {
  private current: number;
  private best = Number.POSITIVE_INFINITY;
  private samples: number[] = [];
  private overloaded = false;

  constructor(
    initial: number,
    private ceiling: number,
    private readonly options = { grow: 1.5, shrink: 3, slackMs: 20, backoff: 0.7, floor: 1 },
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
    const { grow, shrink, slackMs, backoff, floor } = this.options;
    const sorted = this.samples.sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] as number;
    this.samples = [];
    const step = Math.max(1, Math.floor(this.current / 8));
    if (this.overloaded) {
      this.overloaded = false;
      this.current = Math.max(floor, Math.floor(this.current * backoff));
      return;
    }
    // The best median drifts up slowly, so a server that got slower for good is relearned.
    this.best = Math.min(this.best * 1.01, median);
    if (median > this.best * shrink + slackMs) this.current = Math.max(floor, this.current - step);
    else if (median <= this.best * grow + slackMs && this.current < this.ceiling)
      this.current = Math.min(this.ceiling, this.current + step);
  }
}
