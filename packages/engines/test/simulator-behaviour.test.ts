import OpenAI, { type APIError } from "openai";
import { describe, expect, it } from "vitest";
import { MODEL, metricValue, openai, post, readEvents, simulator, until } from "./helpers";

const messages = [{ role: "user" as const, content: "Count to twenty." }];

describe("pacing", () => {
  it("spreads a stream over time: 20 tokens at 100 tok/s take at least ~190 ms after the time to first token", async () => {
    await using sim = await simulator({
      profile: "realistic",
      timeToFirstToken: 0.05,
      tokensPerSecond: 100,
      answerTokens: { min: 20, max: 20 },
    });
    const started = performance.now();
    const res = await post(sim, "/v1/chat/completions", { model: MODEL, messages, stream: true });
    const events = await readEvents(res, started);
    const content = events.filter((e) => e.data.includes('"content":"') && !e.data.includes('"content":""'));
    expect(content).toHaveLength(20);
    expect(content[0]!.at).toBeGreaterThanOrEqual(45); // time to first token
    expect(content.at(-1)!.at - content[0]!.at).toBeGreaterThanOrEqual(150); // 19 gaps of 10 ms
    // spread out, not sent in one burst: the middle token arrives well after the first
    expect(content[10]!.at - content[0]!.at).toBeGreaterThanOrEqual(60);
    expect(events.at(-1)!.data).toBe("[DONE]");
  });

  it("makes a non-streamed answer wait as long as generating it would take", async () => {
    await using sim = await simulator({
      profile: "realistic",
      timeToFirstToken: 0.05,
      tokensPerSecond: 100,
      answerTokens: { min: 20, max: 20 },
    });
    const started = performance.now();
    const answer = await openai(sim).chat.completions.create({ model: MODEL, messages });
    expect(performance.now() - started).toBeGreaterThanOrEqual(200);
    expect(answer.usage!.completion_tokens).toBe(20);
  });

  it("ignores time to first token and token rate with the fast profile", async () => {
    // At these settings a paced answer would take hours; fast answers within the test's timeout.
    await using sim = await simulator({ profile: "fast", timeToFirstToken: 3600, tokensPerSecond: 0.001 });
    const client = openai(sim);
    const plain = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 30 });
    expect(plain.usage!.completion_tokens).toBeGreaterThan(0);
    const stream = await client.chat.completions.create({ model: MODEL, messages, stream: true });
    let pieces = 0;
    for await (const chunk of stream) if (chunk.choices[0]?.delta.content) pieces++;
    expect(pieces).toBeGreaterThan(0);
  });
});

describe("load time", () => {
  it("answers 503 until the simulated load time has passed, then 200", async () => {
    const started = Date.now();
    await using sim = await simulator({ loadTime: 0.3 });
    expect(sim.isReady()).toBe(false);
    const loading = await fetch(`${sim.url}/health`);
    expect(loading.status).toBe(503);
    expect(loading.headers.get("x-switchyard-simulator")).toBe("1");
    expect(((await loading.json()) as { error: unknown }).error).toMatchObject({
      type: "ServiceUnavailableError",
      code: 503,
    });

    const chat = await openai(sim)
      .chat.completions.create({ model: MODEL, messages })
      .catch((e: unknown) => e);
    expect(chat).toBeInstanceOf(OpenAI.APIError);
    expect((chat as APIError).status).toBe(503);
    expect((chat as APIError).message).toMatch(/still loading/);
    expect((await fetch(`${sim.url}/v1/models`)).status).toBe(503);
    expect((await fetch(`${sim.url}/metrics`)).status).toBe(200);

    await sim.ready;
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    const health = await fetch(`${sim.url}/health`);
    expect(health.status).toBe(200);
    const answer = await openai(sim).chat.completions.create({ model: MODEL, messages });
    expect(answer.choices).toHaveLength(1);
  });
});

describe("concurrency", () => {
  it("queues requests beyond maxConcurrency and runs them one after another", async () => {
    await using sim = await simulator({
      profile: "realistic",
      maxConcurrency: 1,
      timeToFirstToken: 0,
      tokensPerSecond: 50,
      answerTokens: { min: 20, max: 20 }, // ~380 ms each, so the second surely arrives while the first runs
    });
    const client = openai(sim);
    const finished: number[] = [];
    const started = performance.now();
    const one = (content: string) =>
      client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content }] }).then((answer) => {
        finished.push(performance.now() - started);
        return answer;
      });
    const both = Promise.all([one("first"), one("second")]);

    await until(() => sim.queueDepth() === 1);
    expect(sim.inFlight()).toBe(1);
    const text = await (await fetch(`${sim.url}/metrics`)).text();
    expect(metricValue(text, "simulator_queue_depth")).toBe(1);
    expect(metricValue(text, "simulator_requests_in_flight")).toBe(1);

    const answers = await both;
    expect(answers.every((a) => a.usage!.completion_tokens === 20)).toBe(true);
    finished.sort((a, b) => a - b);
    expect(finished[0]!).toBeGreaterThanOrEqual(150);
    expect(finished[1]! - finished[0]!).toBeGreaterThanOrEqual(300); // the second waited for the first
    expect(sim.queueDepth()).toBe(0);
    expect(sim.inFlight()).toBe(0);
  });
});

describe("failure injection", () => {
  it("answers every request with failStatus at failRate 1", async () => {
    await using sim = await simulator({ failRate: 1, failStatus: 503 });
    const client = openai(sim);
    for (let i = 0; i < 3; i++) {
      const error = await client.chat.completions.create({ model: MODEL, messages }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.InternalServerError);
      expect((error as APIError).status).toBe(503);
      expect((error as APIError).message).toMatch(/Simulated failure/);
    }
    const embeddings = await post(sim, "/v1/embeddings", { model: MODEL, input: "x" });
    expect(embeddings.status).toBe(503);
    expect((await fetch(`${sim.url}/health`)).status).toBe(200); // the server itself is fine
  });

  it("sends 429 as a rate limit with Retry-After", async () => {
    await using sim = await simulator({ failRate: 1, failStatus: 429 });
    const res = await post(sim, "/v1/chat/completions", { model: MODEL, messages });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(((await res.json()) as { error: unknown }).error).toMatchObject({ type: "RateLimitError", code: 429 });
    await expect(openai(sim).chat.completions.create({ model: MODEL, messages })).rejects.toBeInstanceOf(
      OpenAI.RateLimitError,
    );
  });

  it("fails the same requests for the same seed", async () => {
    const statuses = async (seed: number) => {
      await using sim = await simulator({ failRate: 0.5, failStatus: 500, seed });
      const out: number[] = [];
      for (let i = 0; i < 24; i++)
        out.push((await post(sim, "/v1/chat/completions", { model: MODEL, messages })).status);
      return out;
    };
    const first = await statuses(1);
    expect(first).toContain(200);
    expect(first).toContain(500);
    expect(await statuses(1)).toEqual(first);
    expect(await statuses(2)).not.toEqual(first);
  });
});

describe("client disconnects", () => {
  it("stops a stream when the client aborts, counts it, and frees the slot", async () => {
    await using sim = await simulator({
      profile: "realistic",
      maxConcurrency: 1,
      timeToFirstToken: 0,
      tokensPerSecond: 50,
      answerTokens: { min: 200, max: 200 }, // 4 s if it ran to the end
    });
    const client = openai(sim);
    const stream = await client.chat.completions.create({ model: MODEL, messages, stream: true });
    let seen = 0;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) seen++;
      if (seen === 3) break; // leaving the loop aborts the request
    }
    await until(() => sim.metrics().cancelled === 1);
    expect(sim.inFlight()).toBe(0);
    const generated = sim.metrics().generatedTokens;
    expect(generated).toBeGreaterThanOrEqual(3);
    expect(generated).toBeLessThan(200);
    const text = await (await fetch(`${sim.url}/metrics`)).text();
    expect(metricValue(text, "simulator_requests_cancelled_total")).toBe(1);
    expect(text).toMatch(/simulator_requests_total\{model="acme\/sim-7b",route="chat\/completions",status="499"\} 1/);

    // generation stopped: no more tokens are counted afterwards
    await new Promise((r) => setTimeout(r, 100));
    expect(sim.metrics().generatedTokens).toBe(generated);

    // the slot is free: the next request runs at once rather than queueing behind the dead stream
    const next = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 2 });
    expect(next.usage!.completion_tokens).toBe(2);
  });

  it("counts a request abandoned while queued or while a plain answer is generated", async () => {
    await using sim = await simulator({
      profile: "realistic",
      maxConcurrency: 1,
      timeToFirstToken: 0,
      tokensPerSecond: 20,
      answerTokens: { min: 40, max: 40 },
    });
    const running = new AbortController();
    const queued = new AbortController();
    const first = post(sim, "/v1/chat/completions", { model: MODEL, messages }, { signal: running.signal });
    await until(() => sim.inFlight() === 1);
    const second = post(sim, "/v1/chat/completions", { model: MODEL, messages }, { signal: queued.signal });
    await until(() => sim.queueDepth() === 1);

    queued.abort();
    await expect(second).rejects.toThrow();
    await until(() => sim.metrics().cancelled === 1);
    expect(sim.queueDepth()).toBe(0);

    running.abort();
    await expect(first).rejects.toThrow();
    await until(() => sim.metrics().cancelled === 2);
    expect(sim.inFlight()).toBe(0);
    expect(sim.metrics().generatedTokens).toBe(0); // a plain answer sends its tokens only at the end
  });
});

describe("crash injection", () => {
  it("crashes after N answered requests", async () => {
    const crashes: string[] = [];
    await using sim = await simulator({ crashAfterRequests: 2 }, { onCrash: (reason) => crashes.push(reason) });
    const client = openai(sim);
    await client.chat.completions.create({ model: MODEL, messages });
    expect(crashes).toEqual([]);
    await client.chat.completions.create({ model: MODEL, messages });
    await until(() => crashes.length === 1);
    expect(crashes[0]).toMatch(/2 request\(s\) answered/);
    await expect(fetch(`${sim.url}/health`)).rejects.toThrow();
  });

  it("crashes after a time", async () => {
    const crashes: string[] = [];
    await using sim = await simulator({ crashAfter: "100ms" }, { onCrash: (reason) => crashes.push(reason) });
    expect((await fetch(`${sim.url}/health`)).status).toBe(200);
    await until(() => crashes.length === 1);
    expect(crashes[0]).toMatch(/0\.1s after start/);
  });
});

describe("hang injection", () => {
  it("hangs after N requests for a while: later requests get no answer, /health still says ready, then it answers again", async () => {
    await using sim = await simulator({ hangAfterRequests: 1, hangFor: "600ms", profile: "fast" });
    const client = openai(sim);
    await client.chat.completions.create({ model: MODEL, messages });
    const swallowed = await client.chat.completions
      .create({ model: MODEL, messages }, { timeout: 300, maxRetries: 0 })
      .then(
        () => "answered",
        (error: Error) => error.constructor.name,
      );
    expect(swallowed).toBe("APIConnectionTimeoutError");
    expect((await fetch(`${sim.url}/health`)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const again = await client.chat.completions.create({ model: MODEL, messages }, { timeout: 2000, maxRetries: 0 });
    expect(again.choices[0]?.message.content).toBeTruthy();
  });
});

describe("logs and metrics", () => {
  it("says it is a simulator when it starts and when it is ready, and logs requests only at debug", async () => {
    const lines: string[] = [];
    const quiet = await simulator({ logLevel: "info" }, { log: (line) => lines.push(line) });
    await post(quiet, "/v1/chat/completions", { model: MODEL, messages });
    await quiet.close();
    const logged = lines.map((line) => JSON.parse(line));
    expect(logged).toHaveLength(2);
    expect(logged[0]).toMatchObject({ level: "info", simulator: true, model: MODEL, url: quiet.url });
    expect(logged[0].msg).toMatch(/simulator.*NO real model/);
    expect(logged[1].msg).toMatch(/ready/);

    const debugLines: string[] = [];
    const loud = await simulator({ logLevel: "debug" }, { log: (line) => debugLines.push(line) });
    await post(loud, "/v1/chat/completions", { model: MODEL, messages });
    await loud.close();
    expect(debugLines.map((l) => JSON.parse(l))).toContainEqual(
      expect.objectContaining({ level: "debug", msg: "request", route: "chat/completions", status: 200 }),
    );
  });

  it("counts requests by route and status, and tokens", async () => {
    await using sim = await simulator({ capabilities: ["chat", "embedding"] });
    const client = openai(sim);
    const answer = await client.chat.completions.create({ model: MODEL, messages });
    await client.embeddings.create({ model: MODEL, input: "x", encoding_format: "float" });
    await post(sim, "/v1/chat/completions", { model: "nope", messages });
    const snapshot = sim.metrics();
    expect(snapshot.requests).toEqual({ "chat/completions": { "200": 1, "404": 1 }, embeddings: { "200": 1 } });
    expect(snapshot.generatedTokens).toBe(answer.usage!.completion_tokens);
    expect(snapshot.promptTokens).toBe(answer.usage!.prompt_tokens + 1);
    const text = await (await fetch(`${sim.url}/metrics`)).text();
    expect(text).toMatch(/# TYPE simulator_requests_total counter/);
    expect(metricValue(text, "simulator_generated_tokens_total")).toBe(answer.usage!.completion_tokens);
  });
});
