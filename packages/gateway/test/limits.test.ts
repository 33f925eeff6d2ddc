import { GatewaySettingsSchema, SwitchyardError } from "@switchyard/core";
import { describe, expect, it } from "vitest";
import { estimateTokens, RateLimits } from "../src";

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

  it("estimates tokens from the body size and max_tokens", () => {
    expect(estimateTokens(400, { max_tokens: 50 })).toBe(150);
    expect(estimateTokens(400, {})).toBe(356);
    expect(estimateTokens(400, { max_tokens: 50 }, false)).toBe(100);
  });
});
