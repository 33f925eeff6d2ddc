import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Logger } from "pino";
import type { DeploymentStore } from "../store";
import type { InFlight } from "./in-flight";

/** A model's demand: requests in flight to its replicas, and requests waiting for one. */
export interface ModelDemand {
  inFlight: number;
  waiting: number;
}

/**
 * This process's demand per model (row id), and every instance's together for the leader.
 *
 * In flight comes from `InFlight`. Waiting is what would run if there were room: requests a
 * gateway holds for a model that is not live, and a batch's lines not sent yet (`setBacklog`).
 * Each instance writes its own figures to the database every `demandInterval` (`share`); the
 * leader adds the rows written since three intervals ago to its own figures (`totals`), so a
 * scheduler-only instance scales models it never serves itself.
 */
export class Demand {
  /** Identifies this process's rows (host, pid and a random part: pids repeat across hosts). */
  readonly instance = `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  private readonly held = new Map<string, number>();
  private readonly backlogs = new Map<string, { modelId: string; lines: number }>();
  /** Models written non-zero last time: written once more as zero when their demand ends. */
  private shared = new Set<string>();
  private lastShare = 0;
  private lastPrune = 0;
  /** The other instances' demand as last read, and when. */
  private others: { at: number; demand: Map<string, ModelDemand> } | undefined;

  constructor(private readonly inFlight: InFlight) {}

  /** Count one request waiting for a model (a held cold request) until the returned function runs. */
  hold(modelId: string): () => void {
    this.held.set(modelId, (this.held.get(modelId) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.held.get(modelId) ?? 1) - 1;
      if (left > 0) this.held.set(modelId, left);
      else this.held.delete(modelId);
    };
  }

  /** A batch's lines not sent yet (`key` names the batch; 0 ends it). */
  setBacklog(key: string, modelId: string, lines: number): void {
    if (lines > 0) this.backlogs.set(key, { modelId, lines });
    else this.backlogs.delete(key);
  }

  /** This process's demand per model. */
  local(): Map<string, ModelDemand> {
    const demand = new Map<string, ModelDemand>();
    const of = (modelId: string) => {
      let d = demand.get(modelId);
      if (!d) {
        d = { inFlight: 0, waiting: 0 };
        demand.set(modelId, d);
      }
      return d;
    };
    for (const [modelId, count] of this.inFlight.models()) of(modelId).inFlight += count;
    for (const [modelId, count] of this.held) of(modelId).waiting += count;
    for (const { modelId, lines } of this.backlogs.values()) of(modelId).waiting += lines;
    return demand;
  }

  /**
   * Write this process's demand (at most every `intervalMs`): the models it has demand for, and
   * a zero for those it had demand for last time. A failed write is retried next interval.
   */
  async share(store: DeploymentStore, logger: Logger, now: number, intervalMs: number): Promise<void> {
    if (now - this.lastShare < intervalMs) return;
    this.lastShare = now;
    const demand = this.local();
    for (const modelId of this.shared) if (!demand.has(modelId)) demand.set(modelId, { inFlight: 0, waiting: 0 });
    const nonZero = new Set([...demand].filter(([, d]) => d.inFlight + d.waiting > 0).map(([id]) => id));
    try {
      await store.writeDemand(this.instance, demand, new Date(now));
      this.shared = nonZero;
      // Rows of instances that stopped: read by nobody after three intervals; removed after an hour.
      if (now - this.lastPrune >= 600_000) {
        this.lastPrune = now;
        await store.pruneDemand(new Date(now - 3_600_000));
      }
    } catch (error) {
      logger.warn({ err: error }, "scheduler: could not share this instance's demand");
    }
  }

  /**
   * Every instance's demand per model: this process's (now) plus the other instances' fresh rows
   * (re-read at most every `intervalMs`: they change no faster; a pass runs four times a second).
   */
  async totals(store: DeploymentStore, now: number, intervalMs: number): Promise<Map<string, ModelDemand>> {
    if (!this.others || now - this.others.at >= intervalMs) {
      const freshSince = new Date(now - Math.max(3000, 3 * intervalMs));
      this.others = { at: now, demand: await store.readDemand(this.instance, freshSince) };
    }
    const total = this.local();
    for (const [modelId, other] of this.others.demand) {
      const mine = total.get(modelId) ?? { inFlight: 0, waiting: 0 };
      total.set(modelId, { inFlight: mine.inFlight + other.inFlight, waiting: mine.waiting + other.waiting });
    }
    return total;
  }
}
