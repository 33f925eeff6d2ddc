import type { UsageRecorder } from "@switchyard/gateway/usage";

/** What the batch runner reports per line. */
interface BatchLineUsage {
  requestId: string;
  userId: string;
  model: string;
  cluster: string;
  route: string;
  status: number;
  promptTokens: number;
  completionTokens: number;
  latencyMs: number;
}

/** Batch lines are accounted in the gateway's usage table (route `/v1/batches`), as the user's requests. */
export function batchUsageSink(usage: UsageRecorder): (line: BatchLineUsage) => void {
  return (u) =>
    usage.record({
      at: new Date(),
      requestId: u.requestId,
      userId: u.userId,
      apiKeyId: null,
      model: u.model,
      cluster: u.cluster,
      route: u.route,
      status: u.status,
      promptTokens: u.promptTokens,
      completionTokens: u.completionTokens,
      latencyMs: u.latencyMs,
      ttftMs: null,
      stream: false,
    });
}
