import { redisAvailable, TEST_REDIS_URL } from "@switchyard/db/testing";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { startGatewayHarness } from "./gateway-harness";

const withRedis = await redisAvailable();

describe.runIf(withRedis)("rate limits shared through Redis", () => {
  it("counts a user's requests on two instances together", async () => {
    // Two instances (each its own embedded database) and one Redis; the user id is new each
    // run, so earlier runs' counters do not interfere.
    const limit = 6;
    const extra = `  limits:\n    user: { requestsPerMinute: ${limit}, tokensPerMinute: 100000000 }`;
    const a = await startGatewayHarness({ extraConfig: extra, redisUrl: TEST_REDIS_URL, waitFor: ["org/plain"] });
    const b = await startGatewayHarness({ extraConfig: extra, redisUrl: TEST_REDIS_URL, waitFor: ["org/plain"] });
    try {
      // The same user id on both (each has its own database): copy a's researcher to b's limiter key space.
      const userA = await a.server.ctx.db.prisma.user.findUniqueOrThrow({ where: { username: "researcher" } });
      await b.server.ctx.db.prisma.user.update({ where: { username: "researcher" }, data: { id: userA.id } });
      await b.server.ctx.auth.credentialsChanged();
      const ask = (client: OpenAI) =>
        client.chat.completions.create({
          model: "org/plain",
          messages: [{ role: "user", content: "hi" }],
          max_tokens: 1,
        });
      const half = Math.floor(limit / 2);
      for (let i = 0; i < half; i++) await ask(a.client);
      for (let i = half; i < limit; i++) await ask(b.client);
      const refused = await ask(a.client).catch((e) => e);
      expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
      expect(refused.code).toBe("rate_limit_requests");
    } finally {
      await a.close();
      await b.close();
    }
  });
});
