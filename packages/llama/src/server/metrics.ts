import type { EngineCounters } from "./engine";

export interface MetricsSnapshot extends EngineCounters {
  /** Generated tokens per second of generation time, per sequence (llama-server's predicted_tokens_seconds). */
  predictedTokensPerSecond: number;
  /** Prompt tokens per second of prompt evaluation time. */
  promptTokensPerSecond: number;
  /** Sequences generating now. */
  slotsInUse: number;
  slotsTotal: number;
  /** Requests waiting for a free sequence. */
  queueDepth: number;
  /** Answered requests by route and status (499: the client went away first). */
  requests: Record<string, number>;
}

export class ServerMetrics {
  private readonly requests = new Map<string, number>();

  constructor(
    private readonly source: () => {
      counters: EngineCounters;
      slotsInUse: number;
      slotsTotal: number;
      queueDepth: number;
    },
  ) {}

  countRequest(route: string, status: number): void {
    const key = `${route} ${status}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  snapshot(): MetricsSnapshot {
    const { counters, slotsInUse, slotsTotal, queueDepth } = this.source();
    return {
      ...counters,
      predictedTokensPerSecond:
        counters.predictedSeconds > 0 ? counters.predictedTokens / counters.predictedSeconds : 0,
      promptTokensPerSecond: counters.promptSeconds > 0 ? counters.promptTokens / counters.promptSeconds : 0,
      slotsInUse,
      slotsTotal,
      queueDepth,
      requests: Object.fromEntries(this.requests),
    };
  }

  /** Prometheus text with llama-server's metric names, so its dashboards and alerts work unchanged. */
  render(): string {
    const s = this.snapshot();
    const lines: string[] = [];
    const metric = (name: string, type: "counter" | "gauge", help: string, value: number) => {
      lines.push(`# HELP llamacpp:${name} ${help}`, `# TYPE llamacpp:${name} ${type}`, `llamacpp:${name} ${value}`);
    };
    metric("prompt_tokens_total", "counter", "Number of prompt tokens processed.", s.promptTokens);
    metric("prompt_seconds_total", "counter", "Prompt process time.", s.promptSeconds);
    metric("tokens_predicted_total", "counter", "Number of generation tokens processed.", s.predictedTokens);
    metric("tokens_predicted_seconds_total", "counter", "Predict process time.", s.predictedSeconds);
    metric("prompt_tokens_seconds", "gauge", "Average prompt throughput in tokens/s.", s.promptTokensPerSecond);
    metric(
      "predicted_tokens_seconds",
      "gauge",
      "Average generation throughput in tokens/s.",
      s.predictedTokensPerSecond,
    );
    metric("requests_processing", "gauge", "Number of requests processing (slots in use).", s.slotsInUse);
    metric("requests_deferred", "gauge", "Number of requests deferred (waiting for a slot).", s.queueDepth);
    metric("slots_total", "gauge", "Parallel sequences (--parallel).", s.slotsTotal);
    metric("requests_cancelled_total", "counter", "Requests whose client went away before the answer.", s.cancelled);
    lines.push(
      "# HELP llamacpp:requests_total Answered requests by route and HTTP status (499: client closed).",
      "# TYPE llamacpp:requests_total counter",
    );
    for (const [key, count] of this.requests) {
      const [route, status] = key.split(" ");
      lines.push(`llamacpp:requests_total{route="${route}",status="${status}"} ${count}`);
    }
    return `${lines.join("\n")}\n`;
  }
}
