import { GatewaySettingsSchema, SwitchyardError } from "@switchyard/core";
import { describe, expect, it } from "vitest";
import { RateLimits, tokenEstimate } from "../src";

const settings = (limits: Record<string, unknown>) => GatewaySettingsSchema.parse({ limits }).limits;

describe("rate limits", () => {
  it("counts requests per user and refuses the one over the limit with 429 and reset headers", async () => {
    const limits = new RateLimits(settings({ user: { requestsPerMinute: 2 } }));
    const ok = await limits.charge({ id: "u1", groups: [] }, "m", 10);
    expect(ok.headers).toMatchObject({ "x-ratelimit-limit-requests": "2", "x-ratelimit-remaining-requests": "1" });
    await limits.charge({ id: "u1", groups: [] }, "m", 10);
    const refused = await limits.charge({ id: "u1", groups: [] }, "m", 10).catch((e) => e);
    expect(refused).toBeInstanceOf(SwitchyardError);
    expect(refused).toMatchObject({ status: 429, code: "rate_limit_requests", retryAfter: expect.any(Number) });
    expect(refused.headers).toMatchObject({ "x-ratelimit-remaining-requests": "0" });
    // Another user is not affected.
    await expect(limits.charge({ id: "u2", groups: [] }, "m", 10)).resolves.toBeDefined();
  });

  it("charges estimated tokens, then settles with the real count", async () => {
    const limits = new RateLimits(settings({ user: { tokensPerMinute: 1000 }, model: { tokensPerMinute: 100000 } }));
    const first = await limits.charge({ id: "u", groups: [] }, "m", 900);
    await limits.settle(first, 100); // used far less than estimated
    const second = await limits.charge({ id: "u", groups: [] }, "m", 800);
    expect(second.headers["x-ratelimit-remaining-tokens"]).toBe("100");
    await expect(limits.charge({ id: "u", groups: [] }, "m", 500)).rejects.toMatchObject({ code: "rate_limit_tokens" });
  });

  it("applies per-model limits and the most generous group override", async () => {
    const limits = new RateLimits(
      settings({
        user: { requestsPerMinute: 1 },
        models: { "big/model": { requestsPerMinute: 1 } },
        groups: { power: { requestsPerMinute: 5 } },
      }),
    );
    await limits.charge({ id: "p", groups: ["power"] }, "m", 1);
    await limits.charge({ id: "p", groups: ["power"] }, "m", 1);
    await limits.charge({ id: "x", groups: ["power"] }, "big/model", 1);
    await expect(limits.charge({ id: "y", groups: ["power"] }, "big/model", 1)).rejects.toMatchObject({
      code: "rate_limit_requests",
      message: expect.stringMatching(/model big\/model/),
    });
  });

  it("estimates the worst case: the prompt plus every choice of every prompt times its output bound", () => {
    const caps = { maxChoices: 8, maxOutputTokens: 1000 };
    expect(tokenEstimate("chat", { max_tokens: 50 }, 400, undefined, caps)).toBe(150);
    expect(tokenEstimate("chat", { max_tokens: 50, max_completion_tokens: 70, n: 4 }, 400, undefined, caps)).toBe(380);
    // Without max_tokens: the context window, else the per-request cap.
    expect(tokenEstimate("chat", {}, 400, 4096, caps)).toBe(100 + 4096);
    expect(tokenEstimate("chat", { max_tokens: 0 }, 400, undefined, caps)).toBe(1100);
    expect(tokenEstimate("responses", { max_output_tokens: 9000 }, 400, 500, { ...caps, maxOutputTokens: 9000 })).toBe(
      600,
    );
    const prompts = { prompt: ["a", "b", "c"], max_tokens: 10, best_of: 2 };
    expect(tokenEstimate("completions", prompts, 400, undefined, caps)).toBe(160);
    expect(tokenEstimate("completions", { prompt: [1, 2, 3], max_tokens: 10 }, 400, undefined, caps)).toBe(110);
    expect(tokenEstimate("embeddings", { max_tokens: 50 }, 400, undefined, caps)).toBe(100);
  });

  it("refuses choices and output over the per-request caps with 400 naming the field", () => {
    const caps = { maxChoices: 8, maxOutputTokens: 1000 };
    expect(() => tokenEstimate("chat", { n: 9 }, 10, undefined, caps)).toThrow(
      expect.objectContaining({ status: 400, code: "invalid_field", param: "n" }),
    );
    expect(() => tokenEstimate("chat", { best_of: 300 }, 10, undefined, caps)).toThrow(
      expect.objectContaining({ param: "best_of" }),
    );
    expect(() => tokenEstimate("messages", { max_tokens: 1001 }, 10, undefined, caps)).toThrow(
      expect.objectContaining({ param: "max_tokens", message: expect.stringMatching(/at most 1000 tokens/) }),
    );
  });

  it("gives back an over-budget estimate only up to what it took", async () => {
    const limits = new RateLimits(settings({ user: { tokensPerMinute: 1000 } }));
    const big = await limits.charge({ id: "u", groups: [] }, "m", 5000); // takes the whole budget
    expect(big.headers["x-ratelimit-remaining-tokens"]).toBe("0");
    await limits.settle(big, 100);
    const next = await limits.charge({ id: "u", groups: [] }, "m", 1);
    expect(next.headers["x-ratelimit-remaining-tokens"]).toBe("899");
  });

  it("keeps the per-user concurrency cap when only the per-minute limits are configured", () => {
    expect(settings({ user: { requestsPerMinute: 5 } }).user.concurrentRequests).toBe(32);
  });
});
