/**
 * The simulator's counters, kept as plain numbers on the hot path and written as Prometheus
 * text on `GET /metrics` (small enough to write by hand, no registry per request).
 */

export interface SimulatorMetricsSnapshot {
  /** `{ "chat/completions": { "200": 3, "400": 1 }, ... }` */
  requests: Record<string, Record<string, number>>;
  /** Sequences generating now. */
  inFlight: number;
  /** Requests waiting for a free sequence slot. */
  queueDepth: number;
  promptTokens: number;
  generatedTokens: number;
  /** Requests whose client went away before the answer was complete. */
  cancelled: number;
}

export class SimulatorMetrics {
  private readonly requests = new Map<string, Map<number, number>>();
  promptTokens = 0;
  generatedTokens = 0;
  cancelled = 0;

  constructor(
    private readonly model: string,
    private readonly gauges: () => { inFlight: number; queueDepth: number },
  ) {}

  countRequest(route: string, status: number): void {
    let byStatus = this.requests.get(route);
    if (!byStatus) {
      byStatus = new Map();
      this.requests.set(route, byStatus);
    }
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
  }

  snapshot(): SimulatorMetricsSnapshot {
    const requests: Record<string, Record<string, number>> = {};
    for (const [route, byStatus] of this.requests) {
      requests[route] = Object.fromEntries([...byStatus].map(([status, n]) => [String(status), n]));
    }
    const { inFlight, queueDepth } = this.gauges();
    return {
      requests,
      inFlight,
      queueDepth,
      promptTokens: this.promptTokens,
      generatedTokens: this.generatedTokens,
      cancelled: this.cancelled,
    };
  }

  /** Prometheus text exposition format 0.0.4. */
  render(): string {
    const model = JSON.stringify(this.model);
    const { inFlight, queueDepth } = this.gauges();
    const lines = [
      "# HELP simulator_info The Switchyard simulator: generated text, no real model.",
      "# TYPE simulator_info gauge",
      `simulator_info{model=${model}} 1`,
      "# HELP simulator_requests_total Requests answered, by route and HTTP status.",
      "# TYPE simulator_requests_total counter",
    ];
    for (const [route, byStatus] of this.requests) {
      for (const [status, n] of byStatus) {
        lines.push(`simulator_requests_total{model=${model},route="${route}",status="${status}"} ${n}`);
      }
    }
    lines.push(
      "# HELP simulator_requests_in_flight Sequences being generated now.",
      "# TYPE simulator_requests_in_flight gauge",
      `simulator_requests_in_flight{model=${model}} ${inFlight}`,
      "# HELP simulator_queue_depth Requests waiting for a free sequence slot (max concurrency reached).",
      "# TYPE simulator_queue_depth gauge",
      `simulator_queue_depth{model=${model}} ${queueDepth}`,
      "# HELP simulator_prompt_tokens_total Prompt tokens of the requests served.",
      "# TYPE simulator_prompt_tokens_total counter",
      `simulator_prompt_tokens_total{model=${model}} ${this.promptTokens}`,
      "# HELP simulator_generated_tokens_total Completion tokens sent.",
      "# TYPE simulator_generated_tokens_total counter",
      `simulator_generated_tokens_total{model=${model}} ${this.generatedTokens}`,
      "# HELP simulator_requests_cancelled_total Requests whose client disconnected before the answer was complete.",
      "# TYPE simulator_requests_cancelled_total counter",
      `simulator_requests_cancelled_total{model=${model}} ${this.cancelled}`,
    );
    return `${lines.join("\n")}\n`;
  }
}
