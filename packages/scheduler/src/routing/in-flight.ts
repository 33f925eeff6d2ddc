import type { Logger } from "pino";
import type { DeploymentRecord, DeploymentStore } from "../store";

/**
 * Requests this process has in flight per deployment, and when each deployment and model last
 * took one. The use times reach the database at most every 5 s (`flush`); until then this
 * process's copy is the newer one, which idle stops and eviction read through `lastUsed`.
 */
export class InFlight {
  private readonly counts = new Map<string, number>();
  /** The same requests by model row id (demand, which replica scaling reads). */
  private readonly modelCounts = new Map<string, number>();
  private readonly lastUse = new Map<string, number>();
  private readonly pendingUse = new Map<string, Date>();
  private readonly pendingModelUse = new Map<string, Date>();
  private lastFlush = 0;

  of(deploymentId: string): number {
    return this.counts.get(deploymentId) ?? 0;
  }

  /** Requests this process has in flight to any replica of a model (by row id). */
  ofModel(modelId: string): number {
    return this.modelCounts.get(modelId) ?? 0;
  }

  /** Models (row ids) with requests in flight here, and how many. */
  models(): ReadonlyMap<string, number> {
    return this.modelCounts;
  }

  /** Count a request to a deployment of a model at `now`; the returned function ends it (once). */
  take(deploymentId: string, modelId: string, now: number): () => void {
    this.counts.set(deploymentId, this.of(deploymentId) + 1);
    this.modelCounts.set(modelId, this.ofModel(modelId) + 1);
    const at = new Date(now);
    this.pendingUse.set(deploymentId, at);
    this.pendingModelUse.set(modelId, at);
    this.lastUse.set(deploymentId, now);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.counts.set(deploymentId, Math.max(0, (this.counts.get(deploymentId) ?? 1) - 1));
      const left = this.ofModel(modelId) - 1;
      if (left > 0) this.modelCounts.set(modelId, left);
      else this.modelCounts.delete(modelId);
    };
  }

  /** When the deployment last took a request (or went live), from the database and this process. */
  lastUsed(record: DeploymentRecord): number {
    return Math.max(
      record.liveAt?.getTime() ?? 0,
      record.lastRequestAt?.getTime() ?? 0,
      this.lastUse.get(record.id) ?? 0,
    );
  }

  /** Write the use times gathered since the last flush (every 5 s at most, unless forced). */
  async flush(store: DeploymentStore, logger: Logger, now: number, force: boolean): Promise<void> {
    if (!force && now - this.lastFlush < 5000) return;
    this.lastFlush = now;
    if (this.pendingUse.size === 0 && this.pendingModelUse.size === 0) return;
    const uses = new Map(this.pendingUse);
    const models = new Map(this.pendingModelUse);
    this.pendingUse.clear();
    this.pendingModelUse.clear();
    await store
      .recordUse(uses, models)
      .catch((error) => logger.warn({ err: error }, "scheduler: could not record use"));
  }
}
