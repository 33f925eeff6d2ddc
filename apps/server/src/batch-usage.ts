import type { BatchUsage } from "@switchyard/batch";
import type { UsageRecorder } from "@switchyard/gateway/usage";

/** Batch lines are accounted in the gateway's usage table (route `/v1/batches`), as the user's requests. */
export function batchUsageSink(usage: UsageRecorder): (line: BatchUsage) => void {
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
