import type { Database } from "@switchyard/db";
import { modelKey } from "./catalog-index";
import { readArrivals } from "./replay/export";
import type { SchedulerResources } from "./resources";

/** How often the leader reads the usage records written since its last read. */
export const DEMAND_FOLLOW_INTERVAL_MS = 60_000;
/** Usage rows are written when requests finish, some in batches: each read goes this far back again. */
const OVERLAP_MS = 5 * 60_000;

/**
 * Feeds the leader's demand history (what a policy that learns demand reads) from the usage
 * records, which hold every instance's requests: on becoming leader, the last
 * `scheduler.demandHistory` of them replace what this process saw alone; while it leads, the
 * rows written since are added every minute. A request read twice (the overlap) or already seen
 * by this process is one session, so counting it again changes nothing.
 */
export class DemandFeed {
  private readUntil: number | undefined;
  private lastAttempt = Number.NEGATIVE_INFINITY;
  private readonly keys = new Map<string, string>();

  constructor(
    private readonly db: Database,
    private readonly res: SchedulerResources,
  ) {
    for (const m of res.config.models) {
      for (const name of [m.id, ...m.aliases]) {
        const key = modelKey(m.cluster, name);
        if (!this.keys.has(key)) this.keys.set(key, modelKey(m.cluster, m.id));
      }
    }
  }

  private get enabled(): boolean {
    return this.res.policy.learnsDemand === true && this.res.config.scheduler.demandHistory > 0;
  }

  /** On becoming leader: learn from the usage records of the last `demandHistory`. */
  async seed(): Promise<void> {
    if (!this.enabled) return;
    const now = this.res.now();
    this.lastAttempt = now;
    try {
      const since = now - this.res.config.scheduler.demandHistory * 1000;
      const arrivals = this.keyed(await readArrivals(this.db, new Date(since), new Date(now + 1)));
      this.res.history.seed(arrivals);
      this.readUntil = now + 1;
      this.res.logger.info(
        { requests: arrivals.length, days: Math.round((now - since) / 86_400_000) },
        "scheduler: learned demand from the usage records",
      );
    } catch (error) {
      this.res.logger.warn({ err: error }, "scheduler: could not read past demand; learning from new requests");
    }
  }

  /** While leading: the usage rows written since the last read, at most every minute. */
  async follow(): Promise<void> {
    if (!this.enabled) return;
    const now = this.res.now();
    if (now - this.lastAttempt < DEMAND_FOLLOW_INTERVAL_MS) return;
    if (this.readUntil === undefined) return this.seed();
    this.lastAttempt = now;
    try {
      const arrivals = await readArrivals(this.db, new Date(this.readUntil - OVERLAP_MS), new Date(now + 1));
      for (const a of this.keyed(arrivals)) this.res.history.record(a.key, a.at);
      this.readUntil = now + 1;
    } catch (error) {
      this.res.logger.warn({ err: error }, "scheduler: could not read new demand; trying again");
    }
  }

  /** No longer leading: the next time it leads, it reads the whole history again. */
  stop(): void {
    this.readUntil = undefined;
    this.lastAttempt = Number.NEGATIVE_INFINITY;
  }

  private keyed(arrivals: { at: number; cluster: string; model: string }[]): { key: string; at: number }[] {
    const result: { key: string; at: number }[] = [];
    for (const a of arrivals) {
      const key = this.keys.get(modelKey(a.cluster, a.model));
      if (key) result.push({ key, at: a.at });
    }
    return result;
  }
}
