import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/**
 * The gateway's metrics. Label children are looked up once and kept, so counting a request
 * costs a map lookup, not prom-client's label hashing.
 */
export class GatewayMetrics {
  readonly requests: Counter<"route" | "model" | "status">;
  readonly latency: Histogram<"route" | "model">;
  readonly ttft: Histogram<"model">;
  readonly tokens: Counter<"model" | "kind">;
  readonly inflight: Gauge<"model">;
  private readonly children = new Map<
    string,
    { inc(): void } | { observe(v: number): void } | { inc(v?: number): void; dec(): void }
  >();

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: "switchyard_inference_requests_total",
      help: "Inference requests by route kind, model and HTTP status",
      labelNames: ["route", "model", "status"],
      registers: [registry],
    });
    this.latency = new Histogram({
      name: "switchyard_inference_duration_seconds",
      help: "Time from request to the end of the response",
      labelNames: ["route", "model"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers: [registry],
    });
    this.ttft = new Histogram({
      name: "switchyard_time_to_first_token_seconds",
      help: "Time from request to the first streamed token (or the whole answer)",
      labelNames: ["model"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
    this.tokens = new Counter({
      name: "switchyard_tokens_total",
      help: "Tokens by model and kind (prompt, completion)",
      labelNames: ["model", "kind"],
      registers: [registry],
    });
    this.inflight = new Gauge({
      name: "switchyard_inference_in_flight",
      help: "Inference requests being served",
      labelNames: ["model"],
      registers: [registry],
    });
  }

  private child<T>(key: string, make: () => T): T {
    let child = this.children.get(key) as T | undefined;
    if (!child) {
      child = make();
      this.children.set(key, child as never);
    }
    return child;
  }

  finished(
    route: string,
    model: string,
    status: number,
    seconds: number,
    ttftSeconds: number | null,
    prompt: number,
    completion: number,
  ): void {
    this.child(`r|${route}|${model}|${status}`, () => this.requests.labels(route, model, String(status))).inc();
    this.child(`l|${route}|${model}`, () => this.latency.labels(route, model)).observe(seconds);
    if (ttftSeconds !== null) this.child(`t|${model}`, () => this.ttft.labels(model)).observe(ttftSeconds);
    if (prompt > 0) this.child(`p|${model}`, () => this.tokens.labels(model, "prompt")).inc(prompt);
    if (completion > 0) this.child(`c|${model}`, () => this.tokens.labels(model, "completion")).inc(completion);
  }

  enter(model: string): () => void {
    const gauge = this.child(`i|${model}`, () => this.inflight.labels(model));
    gauge.inc();
    return () => gauge.dec();
  }
}
