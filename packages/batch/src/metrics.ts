import { Counter, Gauge, type Registry } from "prom-client";

/** The batch worker's Prometheus metrics. */
export class BatchMetrics {
  readonly requests: Counter<"model" | "outcome">;
  readonly retries: Counter<"model">;
  readonly concurrency: Gauge<"model">;
  readonly running: Gauge;

  constructor(registry?: Registry) {
    const registers = registry ? [registry] : [];
    this.requests = new Counter({
      name: "switchyard_batch_requests_total",
      help: "Batch lines finished, by model and outcome (completed, failed)",
      labelNames: ["model", "outcome"],
      registers,
    });
    this.retries = new Counter({
      name: "switchyard_batch_retries_total",
      help: "Batch requests retried after a transient failure (429, 5xx, connection, timeout)",
      labelNames: ["model"],
      registers,
    });
    this.concurrency = new Gauge({
      name: "switchyard_batch_concurrency",
      help: "Requests the running batches of a model may have in flight (the sum of their adaptive limits)",
      labelNames: ["model"],
      registers,
    });
    this.running = new Gauge({
      name: "switchyard_batches_running",
      help: "Batches this worker is running",
      registers,
    });
  }
}
