import { Counter, Gauge, type Registry } from "prom-client";
import type { DeploymentRecord } from "./store";

/** The scheduler's Prometheus series (none without a registry). */
export class SchedulerMetrics {
  private readonly gauge: Gauge<"cluster" | "state"> | undefined;
  private readonly launches: Counter<"cluster" | "outcome"> | undefined;

  constructor(registry: Registry | undefined) {
    if (!registry) return;
    this.gauge = new Gauge({
      name: "switchyard_deployments",
      help: "Deployments by cluster and state",
      labelNames: ["cluster", "state"],
      registers: [registry],
    });
    this.launches = new Counter({
      name: "switchyard_scheduler_launches_total",
      help: "Model server launches by cluster and outcome",
      labelNames: ["cluster", "outcome"],
      registers: [registry],
    });
  }

  launched(cluster: string, outcome: "launched" | "failed"): void {
    this.launches?.inc({ cluster, outcome });
  }

  /** Deployments by cluster and state, from the snapshot at the end of a pass. */
  count(records: Iterable<DeploymentRecord>): void {
    if (!this.gauge) return;
    this.gauge.reset();
    for (const record of records) this.gauge.inc({ cluster: record.cluster, state: record.state });
  }
}
