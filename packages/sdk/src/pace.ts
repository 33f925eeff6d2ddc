// A batch's pace from the counts seen while following it: `sy batch wait`'s progress bar and
// the dashboard's Batches page both use it (no Node-only imports: it runs in a browser too).

/**
 * Lines per second, and the time left at that pace. Counted from the first answer, not from
 * submission: until then the model may be loading, and that wait says nothing of how fast the
 * lines go once it answers (counting it made the first ETAs several times too long). Over the
 * last half minute at most, so the figure follows a pace that changes.
 */
export class Pace {
  private readonly samples: { at: number; done: number }[] = [];

  /** The count of finished lines seen at `at` (ms). */
  add(doneCount: number, at = Date.now()): void {
    // Before the first answer there is no pace to measure: wait for one.
    if (doneCount === 0) return;
    const last = this.samples.at(-1);
    // Fewer than before (another batch followed, a count reset): measure afresh.
    if (last && doneCount < last.done) this.samples.length = 0;
    this.samples.push({ at, done: doneCount });
    while (this.samples.length > 2 && at - (this.samples[0]?.at ?? at) > 30_000) this.samples.shift();
  }

  /** Lines per second; null until half a second has passed since the first answer was seen. */
  get rate(): number | null {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (!first || !last || last.at - first.at < 500) return null;
    return Math.max(0, (last.done - first.done) / ((last.at - first.at) / 1000));
  }

  /** Seconds until `remaining` more lines are done at this pace; null when there is no pace yet. */
  eta(remaining: number): number | null {
    const rate = this.rate;
    return rate ? remaining / rate : null;
  }
}
