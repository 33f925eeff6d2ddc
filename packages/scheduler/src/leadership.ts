import { isUnfinishedDeployment } from "@switchyard/core";
import type { Database, LeaderLock } from "@switchyard/db";
import { fail, move } from "./changes";
import { DemandFeed } from "./demand-feed";
import { refresh, type SchedulerResources } from "./resources";

/** The PostgreSQL advisory lock key of the scheduler leader. */
export const LEADER_LOCK_KEY = 7_370_001;

/**
 * Who launches and stops servers: the holder of the leader lock (PostgreSQL advisory lock;
 * always this process with PGlite). A follower tries again every 5 s; a leader that loses the
 * lock follows until it gets it back.
 */
export class Leadership {
  private lock: LeaderLock | undefined;
  private lastAttempt = 0;
  /** The demand a learning policy reads, from every instance's usage records while leading. */
  private readonly demand: DemandFeed;

  constructor(
    private readonly db: Database,
    private readonly res: SchedulerResources,
  ) {
    this.demand = new DemandFeed(db, res);
  }

  get isLeader(): boolean {
    return this.lock !== undefined;
  }

  /** Whether a follower's 5 s between attempts have passed. */
  due(): boolean {
    return !this.lock && this.res.now() - this.lastAttempt > 5000;
  }

  /** Take the lock if free; a new leader first adopts what the last one left. */
  async tryLead(): Promise<void> {
    if (this.lock) return;
    this.lastAttempt = this.res.now();
    const lock = await this.db.tryLeaderLock(LEADER_LOCK_KEY);
    if (!lock) return;
    this.lock = lock;
    void lock.lost.then(() => {
      if (this.lock === lock) {
        this.res.logger.warn("scheduler: lost the leader lock; following until it can lead again");
        this.lock = undefined;
        this.demand.stop();
      }
    });
    this.res.logger.info("scheduler: leading (launches and stops model servers)");
    await adopt(this.res);
    await this.demand.seed();
  }

  /** While leading: add the requests every instance served since the last read (each minute). */
  async followDemand(): Promise<void> {
    if (this.lock) await this.demand.follow();
  }

  /**
   * At shutdown, when leading: servers that do not survive a restart are stopped and their
   * deployments closed; every launcher shuts down; the lock goes to the next leader.
   */
  async stepDown(): Promise<void> {
    if (!this.lock) return;
    const res = this.res;
    const now = new Date(res.now());
    for (const [clusterName, launcher] of res.launchers) {
      if (launcher.capabilities.serversSurviveRestart) continue;
      for (const record of res.snapshot.all()) {
        if (record.cluster !== clusterName || !isUnfinishedDeployment(record.state)) continue;
        if (record.jobId) await launcher.stop(record.id, record.jobId).catch(() => {});
        await move(res, record, "offline", "switchyard stopped", now);
      }
    }
    for (const launcher of res.launchers.values()) await launcher.shutdown();
    await this.lock.release();
    this.lock = undefined;
    this.demand.stop();
  }
}

/**
 * After a (re)start: jobs that belong to unfinished deployments are adopted when the launcher's
 * servers survive restarts, jobs nobody owns are cancelled (never duplicated); servers that do
 * not survive a restart have stopped with the process that started them, so their deployments
 * are closed (and hot models started again). A leader that lost its lock (its database
 * connection dropped) and leads again keeps the servers it started, which are still running.
 */
export async function adopt(res: SchedulerResources): Promise<void> {
  const now = new Date(res.now());
  for (const [clusterName, launcher] of res.launchers) {
    const observations = await launcher.observe();
    const byDeployment = new Map(observations.map((o) => [o.deploymentId, o]));
    const mine = res.snapshot.all().filter((d) => d.cluster === clusterName);
    const survives = launcher.capabilities.serversSurviveRestart;
    for (const record of mine) {
      if (!isUnfinishedDeployment(record.state) || !record.jobId) continue;
      const seen = byDeployment.get(record.id);
      // A job still running is kept: Slurm's from an earlier leader, or (any launcher) one this
      // process started before it lost the lock with its database connection and led again.
      if (seen && seen.phase !== "exited" && (survives || seen.jobId === record.jobId)) {
        res.logger.info({ deployment: record.id, job: seen.jobId }, "scheduler: adopted a running job");
        if (record.state === "live") res.memory.startingSince.set(record.id, res.now());
        continue;
      }
      if (seen?.phase === "exited" && record.state !== "draining") {
        // It died while no one led (the database was away, say): a failure with its reason, as
        // a pass would have recorded it, so a hot model restarts after its backoff.
        await fail(res, record, seen.reason ?? "the server exited", now);
        continue;
      }
      await move(
        res,
        record,
        "offline",
        record.state === "draining"
          ? "stopped"
          : survives
            ? "the job ended while the scheduler was down"
            : "switchyard restarted; its local servers stopped with it",
        now,
      );
      await launcher.stop(record.id, record.jobId).catch(() => {});
    }
    const known = new Set(mine.filter((d) => isUnfinishedDeployment(d.state)).map((d) => d.id));
    for (const observation of observations) {
      if (known.has(observation.deploymentId) || observation.phase === "exited") continue;
      res.logger.warn(
        { deployment: observation.deploymentId, job: observation.jobId },
        "scheduler: cancelling an orphaned job",
      );
      await launcher
        .stop(observation.deploymentId, observation.jobId)
        .catch((error) => res.logger.warn({ err: error }, "scheduler: could not cancel an orphaned job"));
    }
  }
  await refresh(res);
}
