import type { ClusterConfig } from "@switchyard/core";
import type { DeploymentRecord, OperatorFlags } from "./store";

/** Where a deployment's server answers, once it has an address. */
export function baseUrlOf(record: DeploymentRecord): string | null {
  if (!record.host || !record.port) return null;
  return `http://${record.host.includes(":") ? `[${record.host}]` : record.host}:${record.port}`;
}

/**
 * This process's copy of what the database says: unfinished deployments and the last hour's
 * failures, their servers' keys, pinned models and clusters in maintenance. Every reconcile
 * pass re-reads it (`replace`); this process's own writes land in it at once (`remember`).
 * Requests read only this copy, never the database.
 */
export class Snapshot {
  private records = new Map<string, DeploymentRecord>();
  /** Each launched server's key, by deployment (kept apart, so a record never carries one). */
  private serverKeys = new Map<string, string>();
  private pinned = new Set<string>();
  /** Operator maintenance windows, by cluster. */
  private maintenance = new Map<string, string>();
  /**
   * Counts this process's own writes of the operator flags. A re-read that began before one of
   * them is older than what it wrote, and is not applied (see `replaceFlags`).
   */
  private flagWrites = 0;
  /** Deployments by model row id, rebuilt after a change (acquire() runs per request). */
  private byModel: Map<string, DeploymentRecord[]> | undefined;

  replace(records: DeploymentRecord[], serverKeys: Map<string, string>): void {
    this.records = new Map(records.map((r) => [r.id, r]));
    this.serverKeys = serverKeys;
    this.byModel = undefined;
  }

  /** Where this process's flag writes stand: take it before reading the flags from the database. */
  get flagsVersion(): number {
    return this.flagWrites;
  }

  /**
   * The operator flags as read from the database, when the read began at `readFrom` (a
   * `flagsVersion`). If this process wrote a flag since, the read may predate that write (an
   * unpin made while a reconcile pass was reading would come back pinned), so it is dropped;
   * the next pass reads them again.
   */
  replaceFlags(flags: OperatorFlags, readFrom: number): void {
    if (readFrom !== this.flagWrites) return;
    this.pinned = flags.pinned;
    this.maintenance = flags.maintenance;
  }

  /** This process wrote an operator flag to the database (reads begun before it are stale). */
  flagWritten(): void {
    this.flagWrites++;
  }

  remember(record: DeploymentRecord): void {
    this.records.set(record.id, record);
    this.byModel = undefined;
  }

  get(id: string): DeploymentRecord | undefined {
    return this.records.get(id);
  }

  /** Every deployment, as a new array (callers may change the snapshot while they walk it). */
  all(): DeploymentRecord[] {
    return [...this.records.values()];
  }

  ofModel(rowId: string): DeploymentRecord[] {
    if (!this.byModel) {
      this.byModel = new Map();
      for (const record of this.records.values()) {
        const list = this.byModel.get(record.modelId);
        if (list) list.push(record);
        else this.byModel.set(record.modelId, [record]);
      }
    }
    return this.byModel.get(rowId) ?? [];
  }

  serverKey(deploymentId: string): string | undefined {
    return this.serverKeys.get(deploymentId);
  }

  setServerKey(deploymentId: string, key: string): void {
    this.serverKeys.set(deploymentId, key);
  }

  isPinned(rowId: string): boolean {
    return this.pinned.has(rowId);
  }

  setPinned(rowId: string, pinned: boolean): void {
    this.flagWritten();
    if (pinned) this.pinned.add(rowId);
    else this.pinned.delete(rowId);
  }

  /** Why a cluster takes no requests (coming soon, maintenance from config or an operator), if so. */
  clusterProblem(cluster: ClusterConfig): string | undefined {
    if (cluster.status === "coming_soon") return `cluster ${cluster.name} is not available yet`;
    const operator = this.maintenance.get(cluster.name);
    if (operator !== undefined) return `cluster ${cluster.name} is in maintenance${operator ? `: ${operator}` : ""}`;
    if (cluster.status === "maintenance")
      return `cluster ${cluster.name} is in maintenance${cluster.statusReason ? `: ${cluster.statusReason}` : ""}`;
    return undefined;
  }

  /** A cluster's queued deployments in arrival order. */
  queued(cluster: string): DeploymentRecord[] {
    return this.all()
      .filter((d) => d.cluster === cluster && d.state === "queued")
      .sort((a, b) => (a.queuedAt?.getTime() ?? 0) - (b.queuedAt?.getTime() ?? 0));
  }
}
