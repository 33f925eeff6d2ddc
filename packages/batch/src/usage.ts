import type { UsageRecord, UsageSink } from "@switchyard/usage";
import type { BatchUsage } from "./run";

/** A batch line as accounted: route `/v1/batches`, beside the user's own requests, never streamed. */
export function batchUsageRecord(line: BatchUsage, at: Date): UsageRecord {
  const { batchId: _, ...fields } = line;
  return { ...fields, at, apiKeyId: null, ttftMs: null, stream: false };
}

/** What a run reports each line to: the recorder, when the process has one. */
export function batchUsageSink(usage: UsageSink | undefined): ((line: BatchUsage) => void) | undefined {
  return usage ? (line) => usage.record(batchUsageRecord(line, new Date())) : undefined;
}
