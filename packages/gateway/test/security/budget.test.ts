import { RedisLink } from "@switchyard/auth";
import { redisAvailable, TEST_REDIS_URL, testDrivers } from "@switchyard/db/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InFlightRequests } from "../../src/concurrency";
import { type GatewayHarness, startGatewayHarness } from "../harness";

/** Token budgets and concurrency as a user who wants more than their share would try them. */
const drivers = await testDrivers();

describe.each(drivers)("token budgets against request shape, concurrency and aborted streams on %s", (driver) => {
  const budget = 4000;
  let h: GatewayHarness;

  beforeAll(async () => {
    h = await startGatewayHarness({
      driver,
      gateway: {
        limits: {
          user: { requestsPerMinute: 10_000, tokensPerMinute: budget, concurrentRequests: 12 },
          model: { tokensPerMinute: 100_000_000 },
          maxChoices: 8,
          maxOutputTokens: 2000,
        },
      },
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("ten concurrent n=8 requests cannot spend ten times the token budget", async () => {
    const { client } = await h.addUser("spender");
    const ask = () =>
      client.chat.completions.create({
        model: "org/fast",
        messages: [{ role: "user", content: "many answers" }],
        n: 8,
        max_tokens: 50,
        // vLLM's: generate exactly max_tokens, so each answer is the worst case.
        ignore_eos: true,
      } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    const results = await Promise.allSettled(Array.from({ length: 10 }, ask));
    const served = results.filter((r) => r.status === "fulfilled").map((r) => r.value);
    const spent = served.reduce((sum, answer) => sum + (answer.usage?.total_tokens ?? 0), 0);
    expect(served.length).toBeGreaterThan(0);
    expect(served[0]?.choices).toHaveLength(8);
    expect(spent).toBeLessThanOrEqual(budget);
    const refused = results.filter((r) => r.status === "rejected").map((r) => r.reason);
    expect(refused.length).toBeGreaterThan(0);
    for (const error of refused) {
      expect(error).toBeInstanceOf(OpenAI.RateLimitError);
      expect(error.code).toBe("rate_limit_tokens");
    }
  });

  it("n=300 and more output than the cap are refused with 400 naming the field, on every API", async () => {
    const n = await h.client.chat.completions
      .create({ model: "org/fast", messages: [{ role: "user", content: "hi" }], n: 300, max_tokens: 1 })
      .catch((e) => e);
    expect(n).toBeInstanceOf(OpenAI.BadRequestError);
    expect(n).toMatchObject({ code: "invalid_field", param: "n" });
    const bestOf = await h.client.completions
      .create({ model: "org/fast", prompt: "hi", best_of: 300, max_tokens: 1 })
      .catch((e) => e);
    expect(bestOf).toMatchObject({ status: 400, param: "best_of" });
    const over = [
      h.client.chat.completions.create({
        model: "org/fast",
        messages: [{ role: "user", content: "hi" }],
        max_completion_tokens: 2001,
      }),
      h.client.completions.create({ model: "org/fast", prompt: "hi", max_tokens: 2001 }),
      h.client.responses.create({ model: "org/fast", input: "hi", max_output_tokens: 2001 }),
    ];
    const fields = ["max_completion_tokens", "max_tokens", "max_output_tokens"];
    const errors = await Promise.all(over.map((p) => (p as Promise<unknown>).catch((e: Error) => e)));
    errors.forEach((error, i) => {
      expect(error, fields[i]).toBeInstanceOf(OpenAI.BadRequestError);
      expect(error).toMatchObject({
        code: "invalid_field",
        param: fields[i],
        message: expect.stringMatching(/at most 2000 tokens per request/),
      });
    });
  });

  it("a request without max_tokens is charged the model's context window until it settles", async () => {
    const { client } = await h.addUser("unbounded");
    const { response } = await client.chat.completions
      .create({ model: "org/chat", messages: [{ role: "user", content: "no bound" }] })
      .withResponse();
    // org/chat's context window is 8192 tokens: more than the whole budget, so all of it is held.
    expect(response.headers.get("x-ratelimit-remaining-tokens")).toBe("0");
  });

  it("an aborted stream is charged and recorded for the tokens it delivered", async () => {
    const { client, userId } = await h.addUser("streamer");
    const stream = await client.chat.completions.create({
      model: "org/chat",
      messages: [{ role: "user", content: "a long story" }],
      max_tokens: 1000,
      ignore_eos: true,
      stream: true,
    } as OpenAI.ChatCompletionCreateParamsStreaming);
    let seen = 0;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) seen++;
      if (seen === 60) break; // leaving the loop aborts the request
    }
    let rows = await h.usageRows(userId);
    for (let i = 0; i < 100 && rows.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      rows = await h.usageRows(userId);
    }
    const aborted = rows[0];
    expect(aborted).toMatchObject({ status: 499, stream: true });
    expect(aborted?.completionTokens).toBeGreaterThanOrEqual(60);
    expect(aborted?.completionTokens).toBeLessThan(1000);
    expect(aborted?.promptTokens).toBeGreaterThan(0);
    // The budget keeps what was delivered: not refunded in full, not the whole estimate either.
    const { response } = await client.chat.completions
      .create({ model: "org/fast", messages: [{ role: "user", content: "x" }], max_tokens: 1 })
      .withResponse();
    const remaining = Number(response.headers.get("x-ratelimit-remaining-tokens"));
    expect(remaining).toBeLessThanOrEqual(budget - 60);
    expect(remaining).toBeGreaterThan(budget - 1000);
  });

  it("a user cannot hold more requests in flight than the limit allows (429, then served again)", async () => {
    const { client, userId } = await h.addUser("flooder");
    const slow = () =>
      client.chat.completions.create({
        model: "org/chat",
        messages: [{ role: "user", content: "slow" }],
        max_tokens: 30,
      });
    const flood = await Promise.allSettled(Array.from({ length: 14 }, slow));
    const refused = flood.filter((r) => r.status === "rejected").map((r) => r.reason);
    const tooMany = refused.filter((e) => e.code === "too_many_concurrent_requests");
    expect(tooMany.length).toBeGreaterThan(0);
    expect(tooMany[0]).toBeInstanceOf(OpenAI.RateLimitError);
    expect(tooMany[0].message).toMatch(/12 requests in flight/);
    expect(tooMany[0].headers.get("retry-after")).toBe("1");
    expect(h.gateway.deps.limits.inFlightOf(userId)).toBe(0);
    await expect(slow()).resolves.toMatchObject({ object: "chat.completion" });
  });
});

const withRedis = await redisAvailable();

describe.runIf(withRedis)("requests in flight shared through Redis", () => {
  it("a user's requests on two instances count together, and a dead instance's slots expire", async () => {
    const a = await RedisLink.connect(TEST_REDIS_URL);
    const b = await RedisLink.connect(TEST_REDIS_URL);
    let now = Date.now();
    const clock = { now: () => now };
    const user = `u-${crypto.randomUUID()}`;
    const first = new InFlightRequests(a, 60_000, clock);
    const second = new InFlightRequests(b, 60_000, clock);
    try {
      const one = await first.enter(user, 2);
      await second.enter(user, 2);
      await expect(Promise.resolve(second.enter(user, 2))).rejects.toMatchObject({
        status: 429,
        code: "too_many_concurrent_requests",
      });
      first.leave(user, one);
      await new Promise((r) => setTimeout(r, 50));
      await second.enter(user, 2);
      // The second instance dies holding both slots: once their lease runs out they are free again.
      now += 61_000;
      await expect(first.enter(user, 2)).resolves.toBeTypeOf("string");
    } finally {
      first.close();
      second.close();
      await a.close();
      await b.close();
    }
  });
});
