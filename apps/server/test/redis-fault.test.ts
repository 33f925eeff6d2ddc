import { redisAvailable, startRedisCut } from "@switchyard/db/testing";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { type GatewayHarness, startGatewayHarness } from "./gateway-harness";

const withRedis = await redisAvailable();

/** Fault 4: Redis lost under load. Two instances reach Redis through a proxy the test cuts. */
describe.runIf(withRedis)("when Redis is lost", () => {
  it("requests are served and limited in each instance's memory, with one warning, and share Redis again once it is back", async () => {
    const redis = await startRedisCut();
    const limit = 4;
    const extra = `  limits:\n    user: { requestsPerMinute: ${limit}, tokensPerMinute: 100000000 }`;
    const a = await startGatewayHarness({ extraConfig: extra, redisUrl: redis.url, waitFor: ["org/plain"] });
    const b = await startGatewayHarness({ extraConfig: extra, redisUrl: redis.url, waitFor: ["org/plain"] });
    try {
      // The same user id on both (each has its own database), so both count one user's budget.
      const userA = await a.server.ctx.db.prisma.user.findUniqueOrThrow({ where: { username: "researcher" } });
      await b.server.ctx.db.prisma.user.update({ where: { username: "researcher" }, data: { id: userA.id } });
      await b.server.ctx.auth.credentialsChanged();
      const ask = async (h: GatewayHarness) => {
        const started = Date.now();
        const answer = await h.client.chat.completions
          .create({ model: "org/plain", messages: [{ role: "user", content: "hi" }], max_tokens: 1 })
          .catch((error: unknown) => error);
        return { answer, ms: Date.now() - started };
      };
      const metric = async (h: GatewayHarness, line: RegExp) =>
        (await h.server.ctx.metrics.registry.metrics()).split("\n").find((l) => line.test(l));
      const health = async (h: GatewayHarness) => {
        const res = await fetch(`${h.server.url}/health`);
        return { code: res.status, body: (await res.json()) as { status: string; redis?: { status: string } } };
      };
      const warnings = (h: GatewayHarness, text: string) => h.logs.filter((l) => l.includes(text)).length;

      redis.cut();
      // Every request of the limit is served, none waits on Redis; the next is refused by this
      // instance's own count.
      for (let i = 0; i < limit; i++) {
        const { answer, ms } = await ask(a);
        expect(answer).toMatchObject({ object: "chat.completion" });
        expect(ms).toBeLessThan(1000);
      }
      const refused = await ask(a);
      expect(refused.answer).toBeInstanceOf(OpenAI.RateLimitError);
      expect((refused.answer as InstanceType<typeof OpenAI.RateLimitError>).code).toBe("rate_limit_requests");
      // The other instance counts on its own meanwhile.
      expect((await ask(b)).answer).toMatchObject({ object: "chat.completion" });

      expect(warnings(a, "Redis is unreachable")).toBe(1);
      expect(await metric(a, /^switchyard_redis_up /)).toBe("switchyard_redis_up 0");
      expect(await metric(a, /^switchyard_redis_fallbacks_total\{use="rate_limit"\}/)).toMatch(/ [1-9]\d*$/);
      expect(await health(a)).toMatchObject({ code: 200, body: { status: "degraded", redis: { status: "down" } } });

      redis.restore();
      const deadline = Date.now() + 5000;
      while (!(a.server.ctx.redis?.up && b.server.ctx.redis?.up)) {
        if (Date.now() > deadline) throw new Error("Redis not back in time");
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(warnings(a, "Redis is reachable again")).toBe(1);
      expect(warnings(a, "Redis is unreachable")).toBe(1);
      expect(await metric(a, /^switchyard_redis_up /)).toBe("switchyard_redis_up 1");
      expect(await health(a)).toMatchObject({ code: 200, body: { status: "ok", redis: { status: "up" } } });

      // Back in Redis: a's own memory is spent, yet it serves, and both instances count together again.
      for (const h of [a, a, b, b]) expect((await ask(h)).answer).toMatchObject({ object: "chat.completion" });
      const shared = await ask(a);
      expect(shared.answer).toBeInstanceOf(OpenAI.RateLimitError);
    } finally {
      await a.close();
      await b.close();
      await redis.close();
    }
  });
});
