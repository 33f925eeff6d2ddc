const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface DemandHistoryOptions {
  /** Requests to a model closer together than this are one session: one need (default 10 min). */
  sessionGapMs?: number;
  /** How fast the steady rate forgets (half-life, default 12 h). */
  steadyHalfLifeMs?: number;
}

interface ModelHistory {
  /** Sessions started, decayed to `decayedAt` with the steady half-life. */
  steady: number;
  decayedAt: number;
  lastRequest: number;
  /** Sessions started per hour of the day (UTC), over the whole history. */
  byHour: number[];
}

/**
 * What each model was asked for: sessions (a request after a quiet `sessionGap` starts one), a
 * steady rate that forgets over half a day, and a profile by hour of the day. Policies read it to
 * guess how likely a model is to be asked for soon. It keeps a few numbers per model, so
 * recording a request costs nothing on the hot path.
 */
export class DemandHistory {
  readonly sessionGapMs: number;
  private readonly steadyTau: number;
  private readonly models = new Map<string, ModelHistory>();
  private start: number | undefined;

  constructor(options: DemandHistoryOptions = {}) {
    this.sessionGapMs = options.sessionGapMs ?? 10 * 60_000;
    this.steadyTau = (options.steadyHalfLifeMs ?? 12 * HOUR) / Math.LN2;
  }

  /** Since when requests have been recorded (the first one), if any. */
  get since(): number | undefined {
    return this.start;
  }

  /**
   * Forget everything recorded and learn from these requests instead (any order): what a new
   * leader reads from the usage records, which hold every instance's requests.
   */
  seed(requests: Iterable<{ key: string; at: number }>): void {
    this.models.clear();
    this.start = undefined;
    for (const r of [...requests].sort((a, b) => a.at - b.at)) this.record(r.key, r.at);
  }

  /**
   * Count a request for a model (its key) at `at`. Requests should come in time order; one
   * older than the model's last (the same request read again, say) starts no session.
   */
  record(key: string, at: number): void {
    this.start = Math.min(this.start ?? at, at);
    let h = this.models.get(key);
    if (!h) {
      h = { steady: 0, decayedAt: at, lastRequest: Number.NEGATIVE_INFINITY, byHour: new Array(24).fill(0) };
      this.models.set(key, h);
    }
    const newSession = at - h.lastRequest >= this.sessionGapMs;
    h.lastRequest = Math.max(h.lastRequest, at);
    if (!newSession) return;
    h.steady = h.steady * Math.exp(-Math.max(0, at - h.decayedAt) / this.steadyTau) + 1;
    h.decayedAt = Math.max(h.decayedAt, at);
    const hour = Math.floor((at % DAY) / HOUR);
    h.byHour[hour] = (h.byHour[hour] ?? 0) + 1;
  }

  /** When the model was last asked for (-Infinity: never). */
  lastRequest(key: string): number {
    return this.models.get(key)?.lastRequest ?? Number.NEGATIVE_INFINITY;
  }

  /** Whether a session with the model is under way (asked for within the session gap). */
  inSession(key: string, now: number): boolean {
    return now - this.lastRequest(key) < this.sessionGapMs;
  }

  /**
   * Sessions expected to start in [now, now + horizon): the larger of the steady rate (over
   * the time recorded, at least 4 hours, forgetting over half a day) and the rate the same
   * hours of the day had on the days seen before (hours seen at least once).
   */
  expectedSessions(key: string, now: number, horizonMs: number): number {
    const h = this.models.get(key);
    if (!h || this.start === undefined) return 0;
    const observed = Math.max(4 * HOUR, now - this.start);
    const steadyWindow = this.steadyTau * (1 - Math.exp(-observed / this.steadyTau));
    const steady = ((h.steady * Math.exp(-Math.max(0, now - h.decayedAt) / this.steadyTau)) / steadyWindow) * horizonMs;
    let profile = 0;
    for (let t = now; t < now + horizonMs; t += HOUR) {
      const slice = Math.min(HOUR, now + horizonMs - t);
      const hour = Math.floor((t % DAY) / HOUR);
      const seen = this.hoursSeen(hour, now);
      if (seen >= 1) profile += ((h.byHour[hour] ?? 0) / seen) * (slice / HOUR);
    }
    return Math.max(steady, profile);
  }

  /** The chance the model is asked for in [now, now + horizon) (1 while a session is under way). */
  probability(key: string, now: number, horizonMs: number): number {
    if (this.inSession(key, now)) return 1;
    return 1 - Math.exp(-this.expectedSessions(key, now, horizonMs));
  }

  /** How many complete passes of this hour of the day lie between the first record and `now`. */
  private hoursSeen(hour: number, now: number): number {
    if (this.start === undefined) return 0;
    const startOfHour = (day: number) => day * DAY + hour * HOUR;
    const firstDay = Math.floor(this.start / DAY);
    const lastDay = Math.floor(now / DAY);
    let seen = 0;
    for (let day = firstDay; day <= lastDay; day++) {
      const from = startOfHour(day);
      if (from >= this.start && from + HOUR <= now) seen++;
    }
    return seen;
  }
}
