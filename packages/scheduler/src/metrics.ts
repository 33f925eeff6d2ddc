import { type ClusterConfig, isUnfinishedDeployment } from "@switchyard/core";
import { Counter, Gauge, type Registry } from "prom-client";
import type { DeploymentRecord } from "./store";

/** The scheduler's Prometheus series (none without a registry). */
export class SchedulerMetrics {
  private readonly gauge: Gauge<"cluster" | "state"> | undefined;
  private readonly launches: Counter<"cluster" | "outcome"> | undefined;
  private readonly gpus: Gauge<"cluster" | "state"> | undefined;
  private readonly scaling: Counter<"cluster" | "direction"> | undefined;

  constructor(registry: Registry | undefined) {
    if (!registry) return;
    this.gauge = new Gauge({
      name: "switchyard_deployments",
      help: "Deployments by cluster and state",
      labelNames: ["cluster", "state"],
      registers: [registry],
      // Every process of `serve --workers N` sees the same deployments: one count, not N.
      aggregator: "max",
    });
    this.launches = new Counter({
      name: "switchyard_scheduler_launches_total",
      help: "Model server launches by cluster and outcome",
      labelNames: ["cluster", "outcome"],
      registers: [registry],
    });
    this.gpus = new Gauge({
      name: "switchyard_gpus",
      help: "GPUs of the configured nodes by cluster and state (used: held by a deployment, free)",
      labelNames: ["cluster", "state"],
      registers: [registry],
      aggregator: "max",
    });
    this.scaling = new Counter({
      name: "switchyard_scheduler_replica_changes_total",
      help: "Replicas started (up) or drained (down) because of demand, by cluster",
      labelNames: ["cluster", "direction"],
      registers: [registry],
    });
  }

  /** A replica started or drained because of demand. */
  scaled(cluster: string, direction: "up" | "down"): void {
    this.scaling?.inc({ cluster, direction });
  }

  launched(cluster: string, outcome: "launched" | "failed"): void {
    this.launches?.inc({ cluster, outcome });
  }

  /** Deployments by cluster and state, and GPUs used and free, from the snapshot at the end of a pass. */
  count(records: Iterable<DeploymentRecord>, clusters: readonly ClusterConfig[] = []): void {
    if (!this.gauge || !this.gpus) return;
    this.gauge.reset();
    const used = new Map<string, number>();
    for (const record of records) {
      this.gauge.inc({ cluster: record.cluster, state: record.state });
      // A deployment holds its GPUs from placement on a node until it is stopped or failed.
      if (record.nodeName && isUnfinishedDeployment(record.state))
        used.set(record.cluster, (used.get(record.cluster) ?? 0) + record.gpus);
    }
    for (const cluster of clusters) {
      const total = cluster.nodes.reduce((sum, node) => sum + node.gpus, 0);
      const taken = used.get(cluster.name) ?? 0;
      this.gpus.set({ cluster: cluster.name, state: "used" }, taken);
      this.gpus.set({ cluster: cluster.name, state: "free" }, Math.max(0, total - taken));
    }
  }
}
