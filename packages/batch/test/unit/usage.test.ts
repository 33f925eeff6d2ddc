import type { UsageRecord } from "@switchyard/usage";
import { describe, expect, it } from "vitest";
import { batchUsageRecord } from "../../src/usage";

const line = {
  batchId: "batch_1",
  userId: "7f9c2ba4-e88f-4a1c-a2c5-6f0d2d3c9e11",
  model: "org/chat",
  cluster: "lab",
  route: "/v1/batches",
  status: 200,
  promptTokens: 11,
  completionTokens: 22,
  latencyMs: 33,
  requestId: "batch_1-7",
};

describe("a batch line's usage", () => {
  it("is recorded as the user's own request would be: no key, not streamed, no first-token time", () => {
    const at = new Date();
    const entry: UsageRecord = batchUsageRecord(line, at);
    expect(entry).toEqual({
      at,
      requestId: "batch_1-7",
      userId: line.userId,
      apiKeyId: null,
      model: "org/chat",
      cluster: "lab",
      route: "/v1/batches",
      status: 200,
      promptTokens: 11,
      completionTokens: 22,
      latencyMs: 33,
      ttftMs: null,
      stream: false,
    });
  });
});
