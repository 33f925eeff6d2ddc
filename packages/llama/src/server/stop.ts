/**
 * Cuts generated text at the first stop string. Text that might be the start of a stop string
 * is held back until the next piece shows whether it is, so a streamed answer never shows
 * part of a stop string and always equals the non-streamed one.
 */
export class StopMatcher {
  private held = "";
  /** True once a stop string was found; nothing more is released after it. */
  stopped = false;

  constructor(private readonly stops: readonly string[]) {}

  /** Add generated text; returns the part that is safe to send now. */
  push(text: string): string {
    if (this.stopped) return "";
    if (this.stops.length === 0) return text;
    this.held += text;
    let cut = -1;
    for (const stop of this.stops) {
      const at = this.held.indexOf(stop);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.stopped = true;
      const out = this.held.slice(0, cut);
      this.held = "";
      return out;
    }
    const keep = this.longestStopPrefixSuffix();
    const out = this.held.slice(0, this.held.length - keep);
    this.held = this.held.slice(this.held.length - keep);
    return out;
  }

  /** The end of generation: what was held back is not a stop string after all. */
  flush(): string {
    const out = this.stopped ? "" : this.held;
    this.held = "";
    return out;
  }

  /** Length of the longest end of the held text that begins some stop string. */
  private longestStopPrefixSuffix(): number {
    let best = 0;
    for (const stop of this.stops) {
      const max = Math.min(stop.length - 1, this.held.length);
      for (let n = max; n > best; n--) {
        if (this.held.endsWith(stop.slice(0, n))) {
          best = n;
          break;
        }
      }
    }
    return best;
  }
}
