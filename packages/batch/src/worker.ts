import { createHash, randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { LeaderLock } from "@switchyard/db";
import { Upstreams } from "@switchyard/upstream";
import { BatchRun, type RunnerDeps } from "./run";

export type WorkerDeps = Omit<RunnerDeps, "pool" | "sharing" | "workerId"> & {
  /** How often the worker looks for batches to run (it is also woken on create and cancel). */
  pollIntervalMs?: number;
};

const PENDING = `SELECT "id" FROM "batches"
WHERE "status" IN ('validating', 'in_progress', 'finalizing', 'cancelling')
ORDER BY "createdAt" ASC LIMIT 200`;

/** A batch's advisory lock key: a namespace plus 32 bits of its id's hash (within 2^53). */
export function batchLockKey(batchId: string): number {
  return 0x5359_0000_0000 + createHash("sha256").update(batchId).digest().readUInt32BE(0);
}

/**
 * Runs batches: finds those that need work, takes each one's lock (a PostgreSQL session
 * advisory lock on a dedicated connection, so a worker that dies, even by kill -9, frees its
 * batches at once; with PGlite one process owns the database), and runs up to
 * `maxRunningBatches` at a time. Unfinished batches found at start are resumed.
 */
export class BatchWorker {
  readonly id = `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  private readonly runs = new Map<string, { run: BatchRun; lock: LeaderLock; done: Promise<void> }>();
  /** Keep-alive pools per model server, closed once idle (a model's replicas come and go). */
  private readonly upstreams: Upstreams;
  /** Batches not to try again before a time: failed runs, and locks held elsewhere. */
  private readonly notBefore = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private again = false;
  private closed = false;

  constructor(private readonly deps: WorkerDeps) {
    this.upstreams = new Upstreams({
      connections: deps.settings.replicaConcurrency,
      connectTimeoutMs: 10_000,
      keepAliveTimeoutMs: 30_000,
    });
  }

  start(): void {
    this.timer = setInterval(() => this.wake(), this.deps.pollIntervalMs ?? 1000);
    this.timer.unref();
    this.wake();
  }

  /** Look for work now (a batch was created, or one finished and frees a slot). */
  wake(): void {
    if (this.closed) return;
    if (this.polling) {
      this.again = true;
      return;
    }
    this.polling = this.poll()
      .catch((error) => this.deps.logger.warn({ err: error }, "batch worker: looking for batches failed"))
      .finally(() => {
        this.polling = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** A cancel made in this process reaches its run at once (others see it at their next checkpoint). */
  cancel(batchId: string): void {
    this.runs.get(batchId)?.run.cancel();
    this.wake();
  }

  /** Batch ids this worker runs now. */
  running(): string[] {
    return [...this.runs.keys()];
  }

  /** Wait until no batch runs here (tests). */
  async idle(): Promise<void> {
    while (this.runs.size > 0 || this.polling) {
      await Promise.all([...this.runs.values()].map((r) => r.done));
      await this.polling;
    }
  }

  private sharing(cluster: string, model: string): number {
    const key = `${cluster}\u0000${model}`;
    let count = 0;
    for (const { run } of this.runs.values()) if (run.capShareKey === key) count++;
    return count;
  }

  private async poll(): Promise<void> {
    const rows = await this.deps.db.query<{ id: string }>(PENDING, []);
    const now = Date.now();
    for (const { id } of rows) {
      if (this.closed || this.runs.size >= this.deps.settings.maxRunningBatches) return;
      if (this.runs.has(id) || (this.notBefore.get(id) ?? 0) > now) continue;
      const lock = await this.deps.db.tryLeaderLock(batchLockKey(id));
      if (!lock) {
        this.notBefore.set(id, now + 5000); // another worker runs it; do not open a connection every poll
        continue;
      }
      if (this.closed) {
        await lock.release();
        return;
      }
      this.launch(id, lock);
    }
  }

  private launch(id: string, lock: LeaderLock): void {
    const run = new BatchRun(id, {
      ...this.deps,
      pool: (url) => this.upstreams.pool(url),
      sharing: (cluster, model) => this.sharing(cluster, model),
      workerId: this.id,
    });
    void lock.lost.then(() => {
      if (!this.closed) this.deps.logger.warn({ batch: id }, "batch worker: lost the batch's lock; stopping it");
      run.lost();
    });
    const done = run
      .run()
      .catch((error) => {
        this.deps.logger.error({ err: error, batch: id }, "batch worker: run failed; retrying in 30 s");
        this.notBefore.set(id, Date.now() + 30_000);
      })
      .finally(async () => {
        this.runs.delete(id);
        this.deps.metrics.running.set(this.runs.size);
        await lock.release().catch(() => {});
        this.wake();
      });
    this.runs.set(id, { run, lock, done });
    this.deps.metrics.running.set(this.runs.size);
  }

  /** Stop: each running batch checkpoints and is left to resume (here or in another worker). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.polling;
    for (const { run } of this.runs.values()) run.stop();
    await Promise.all([...this.runs.values()].map((r) => r.done));
    await this.upstreams.close();
  }
}
