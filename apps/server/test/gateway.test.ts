import { createApiKey, createUser } from "@switchyard/auth";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayHarness, post, startGatewayHarness } from "./gateway-harness";
import { scrapeMetrics } from "./helpers";

describe("the gateway, through the official openai client", () => {
  let h: GatewayHarness;
  beforeAll(async () => {
    h = await startGatewayHarness();
  });
  afterAll(() => h?.close());

  it("answers chat completions on /v1 and on the reference service's path, by id or alias", async () => {
    const plain = await h.client.chat.completions.create({
      model: "org/chat",
      messages: [{ role: "user", content: "Hello there" }],
      max_tokens: 8,
    });
    expect(plain.object).toBe("chat.completion");
    expect(plain.model).toBe("org/chat");
    expect(plain.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(plain.usage).toMatchObject({ prompt_tokens: expect.any(Number), completion_tokens: 8 });
    const viaAlias = await h.client.chat.completions.create({
      model: "chatty",
      messages: [{ role: "user", content: "Hello there" }],
      max_tokens: 8,
    });
    expect(viaAlias.model).toBe("org/chat");
    const reference = await h
      .reference("lab", "vllm")
      .chat.completions.create({ model: "org/chat", messages: [{ role: "user", content: "Hi" }], max_tokens: 4 });
    expect(reference.choices[0]?.finish_reason).toBe("length");
  });

  it("streams token by token, spread over time, with usage only when asked for", async () => {
    const arrivals: number[] = [];
    const stream = await h.client.chat.completions.create({
      model: "org/chat",
      messages: [{ role: "user", content: "Tell me something" }],
      max_tokens: 16,
      stream: true,
    });
    const chunks = [];
    for await (const chunk of stream) {
      arrivals.push(performance.now());
      chunks.push(chunk);
    }
    const content = chunks.filter((c) => c.choices[0]?.delta?.content);
    expect(content.length).toBe(16);
    // 200 tokens/s: sixteen tokens take at least ~60 ms from first to last (not one burst).
    expect((arrivals.at(-1) as number) - (arrivals[0] as number)).toBeGreaterThan(50);
    expect(chunks.some((c) => c.usage)).toBe(false); // Switchyard asked for usage, and kept it to itself

    const withUsage = await h.client.chat.completions.create({
      model: "org/chat",
      messages: [{ role: "user", content: "Tell me something" }],
      max_tokens: 5,
      stream: true,
      stream_options: { include_usage: true },
    });
    const all = [];
    for await (const chunk of withUsage) all.push(chunk);
    const last = all.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage).toMatchObject({ completion_tokens: 5 });
  });

  it("serves completions, embeddings (float and base64), vision, tools, reasoning and the Responses API", async () => {
    const completion = await h.client.completions.create({
      model: "org/plain",
      prompt: "Once upon a time",
      max_tokens: 6,
    });
    expect(completion.choices[0]?.text.length).toBeGreaterThan(0);

    const floats = await h.client.embeddings.create({
      model: "org/embed",
      input: ["a cat", "a dog"],
      encoding_format: "float",
    });
    expect(floats.data).toHaveLength(2);
    expect(floats.data[0]?.embedding).toHaveLength(64);
    // The SDK asks for base64 by default and decodes it: the same vectors.
    const decoded = await h.client.embeddings.create({ model: "org/embed", input: ["a cat", "a dog"] });
    expect(decoded.data[0]?.embedding[0]).toBeCloseTo(floats.data[0]?.embedding[0] as number, 5);
    const raw = await post(h, "/v1/embeddings", { model: "org/embed", input: "x", encoding_format: "base64" });
    expect(typeof raw.json.data[0].embedding).toBe("string");

    const vision = await h.client.chat.completions.create({
      model: "org/chat",
      max_tokens: 4,
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "What is this?" },
            { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
          ],
        },
      ],
    });
    expect(vision.choices[0]?.message.content).toBeTruthy();

    const tools = await h.client.chat.completions.create({
      model: "org/chat",
      messages: [{ role: "user", content: "Weather in Boston?" }],
      tools: [
        {
          type: "function",
          function: {
            name: "get_weather",
            parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
          },
        },
      ],
      tool_choice: "required",
    });
    expect(tools.choices[0]?.finish_reason).toBe("tool_calls");
    expect(tools.choices[0]?.message.tool_calls?.[0]).toMatchObject({
      type: "function",
      function: { name: "get_weather" },
    });
    const thought = await h.client.chat.completions.create({
      model: "org/thinker",
      messages: [{ role: "user", content: "Why?" }],
      max_tokens: 64,
    });
    const thinking = thought.choices[0]?.message as { reasoning_content?: string } | undefined;
    expect(thinking?.reasoning_content).toBeTruthy();

    const response = await h.client.responses.create({ model: "org/chat", input: "Say hello" });
    expect(response.output_text.length).toBeGreaterThan(0);
  });

  it("speaks the Messages API to Anthropic-style clients (x-api-key)", async () => {
    const res = await post(
      h,
      "/v1/messages",
      { model: "org/chat", max_tokens: 6, messages: [{ role: "user", content: "Hi" }] },
      { authorization: "", "x-api-key": h.key },
    );
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ type: "message", role: "assistant", usage: { output_tokens: 6 } });
    const stream = await fetch(`${h.server.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": h.key, "content-type": "application/json" },
      body: JSON.stringify({
        model: "org/chat",
        max_tokens: 3,
        stream: true,
        messages: [{ role: "user", content: "Hi" }],
      }),
    });
    const text = await stream.text();
    expect(text).toMatch(/event: message_start[\s\S]*event: content_block_delta[\s\S]*event: message_stop/);
  });

  it("routes a model of another framework of the same cluster there, and says so", async () => {
    const res = await post(h, "/resource_server/lab/vllm/v1/embeddings", { model: "org/embed", input: "hello" });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-switchyard-routed-framework")).toBe("infinity");
  });

  it("records usage that matches what the model server reported, in one batch", async () => {
    const before = await h.server.ctx.db.prisma.usageRecord.count();
    const answers = await Promise.all(
      [3, 5, 7].map((n) =>
        h.client.chat.completions.create({
          model: "org/plain",
          messages: [{ role: "user", content: `count ${n}` }],
          max_tokens: n,
        }),
      ),
    );
    const stream = await h.client.chat.completions.create({
      model: "org/plain",
      messages: [{ role: "user", content: "stream me" }],
      max_tokens: 4,
      stream: true,
    });
    for await (const _ of stream) {
      // drain
    }
    expect(await h.server.ctx.db.prisma.usageRecord.count()).toBe(before); // nothing written per request
    await h.server.ctx.usage.flush();
    const rows = await h.server.ctx.db.prisma.usageRecord.findMany({
      where: { model: "org/plain", route: "chat/completions" },
      orderBy: { id: "desc" },
      take: 4,
    });
    expect(rows.map((r) => r.completionTokens).sort()).toEqual([3, 4, 5, 7]);
    for (const answer of answers) {
      const row = rows.find((r) => r.completionTokens === answer.usage?.completion_tokens);
      expect(row?.promptTokens).toBe(answer.usage?.prompt_tokens);
      expect(row).toMatchObject({ status: 200, clusterName: "lab", stream: false });
    }
    expect(rows.find((r) => r.stream)?.completionTokens).toBe(4);
    expect(rows.every((r) => r.latencyMs >= 0 && r.ttftMs !== null && r.apiKeyId !== null)).toBe(true);
  });

  it("cancels the upstream request when the client goes away mid-stream", async () => {
    const cancelled = async () => {
      const url = h.server.ctx.scheduler.availability("lab", "org/chat").baseUrl as string;
      const text = await (await fetch(`${url}/metrics`)).text();
      return Number(/simulator_requests_cancelled_total\S* (\d+)/.exec(text)?.[1] ?? 0);
    };
    const before = await cancelled();
    const controller = new AbortController();
    const stream = await h.client.chat.completions.create(
      { model: "org/chat", messages: [{ role: "user", content: "a long story" }], max_tokens: 400, stream: true },
      { signal: controller.signal },
    );
    let seen = 0;
    try {
      for await (const _ of stream) {
        if (++seen === 3) controller.abort();
      }
    } catch {
      // aborted
    }
    let after = before;
    for (let i = 0; i < 50 && after === before; i++) {
      await new Promise((r) => setTimeout(r, 50));
      after = await cancelled();
    }
    expect(after).toBe(before + 1);
  });

  it("holds a request for a cold model until it is live, then answers", async () => {
    expect(h.server.ctx.scheduler.availability("lab", "org/cold").status).toBe("offline");
    const started = Date.now();
    const answer = await h.client.chat.completions.create({
      model: "org/cold",
      messages: [{ role: "user", content: "wake up" }],
      max_tokens: 3,
    });
    expect(answer.choices[0]?.message.content).toBeTruthy();
    expect(Date.now() - started).toBeGreaterThan(900); // its 1 s load time
  });

  it("returns rate-limit headers on answers and exports the gateway's metrics", async () => {
    const res = await post(h, "/v1/chat/completions", {
      model: "org/plain",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 2,
    });
    expect(res.headers.get("x-ratelimit-limit-requests")).toBe("600");
    expect(Number(res.headers.get("x-ratelimit-remaining-requests"))).toBeLessThan(600);
    expect(res.headers.get("x-ratelimit-limit-tokens")).toBe("60000");
    expect(res.headers.get("x-ratelimit-reset-tokens")).toMatch(/^\d+s$/);
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const metrics = await scrapeMetrics(h.server.url);
    expect(metrics).toMatch(/switchyard_inference_requests_total\{route="chat",model="org\/plain",status="200"\} \d+/);
    expect(metrics).toMatch(/switchyard_time_to_first_token_seconds_bucket\{le="[\d.]+",model="org\/chat"\}/);
    expect(metrics).toMatch(/switchyard_tokens_total\{model="org\/plain",kind="completion"\} \d+/);
    const line = h.logs
      .map((l) => JSON.parse(l))
      .find((l) => l.msg === "request" && l.path === "/v1/chat/completions" && l.model === "org/plain");
    expect(line).toMatchObject({ status: 200, user: "researcher", requestId: expect.any(String) });
  });

  it("answers every kind of mistake with its status in the OpenAI shape", async () => {
    const expectError = async (promise: Promise<unknown>, status: number, code: string) => {
      const error = await promise.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, code).toBeInstanceOf(OpenAI.APIError);
      expect((error as InstanceType<typeof OpenAI.APIError>).status, code).toBe(status);
      expect((error as InstanceType<typeof OpenAI.APIError>).code, code).toBe(code);
      return error as InstanceType<typeof OpenAI.APIError>;
    };
    const bad = await expectError(
      h.client.chat.completions.create({
        model: "org/chat",
        messages: [{ role: "user", content: 5 as unknown as string }],
      }),
      400,
      "invalid_field",
    );
    expect(bad.param).toBe("messages[0].content");
    await expectError(
      new OpenAI({ apiKey: "sy_wrong", baseURL: `${h.server.url}/v1`, maxRetries: 0 }).models.list(),
      401,
      "invalid_api_key",
    );
    await expectError(
      h.client.chat.completions.create({ model: "org/secret", messages: [{ role: "user", content: "hi" }] }),
      403,
      "model_access_denied",
    );
    await expectError(
      h.client.chat.completions.create({ model: "org/nope", messages: [{ role: "user", content: "hi" }] }),
      404,
      "model_not_found",
    );
    const elsewhere = await expectError(
      h
        .reference("lab", "vllm")
        .chat.completions.create({ model: "org/elsewhere", messages: [{ role: "user", content: "hi" }] }),
      404,
      "model_not_on_cluster",
    );
    expect(elsewhere.message).toMatch(/it is served on: other/);
    await expectError(
      h
        .reference("mars", "vllm")
        .chat.completions.create({ model: "org/chat", messages: [{ role: "user", content: "hi" }] }),
      404,
      "cluster_not_found",
    );
    await expectError(h.client.embeddings.create({ model: "org/chat", input: "x" }), 422, "capability_not_supported");
    const image = await expectError(
      h.client.chat.completions.create({
        model: "org/plain",
        messages: [
          { role: "user", content: [{ type: "image_url", image_url: { url: "data:image/png;base64,AA==" } }] },
        ],
      }),
      422,
      "capability_not_supported",
    );
    expect(image.message).toMatch(/does not support image inputs\. Models that do: org\/chat/);
    await expectError(
      h.client.chat.completions.create({
        model: "org/plain",
        messages: [{ role: "user", content: "hi" }],
        tools: [{ type: "function", function: { name: "f" } }],
      }),
      422,
      "capability_not_supported",
    );
    // The model server's own 4xx (prompt longer than the context window) passes through.
    const long = await post(h, "/v1/chat/completions", {
      model: "org/chat",
      max_tokens: 9000,
      messages: [{ role: "user", content: "hi" }],
    });
    expect(long.status).toBe(400);
    expect(long.json.error.message).toMatch(/context|maximum/i);

    const notJson = await post(h, "/v1/chat/completions", "{not json");
    expect(notJson).toMatchObject({ status: 400, json: { error: { code: "invalid_json" } } });
    const huge = await post(h, "/v1/chat/completions", {
      model: "org/chat",
      messages: [{ role: "user", content: "x".repeat(11 * 1024 * 1024) }],
    });
    expect(huge).toMatchObject({
      status: 413,
      json: { error: { code: "payload_too_large", message: expect.stringMatching(/10 MB/) } },
    });
  });

  it("never answers 5xx to generated bodies and headers (fuzz)", async () => {
    const fc = await import("fast-check");
    const routes = [
      "/v1/chat/completions",
      "/v1/completions",
      "/v1/embeddings",
      "/v1/responses",
      "/v1/messages",
      "/resource_server/lab/vllm/v1/chat/completions",
    ];
    const valid = {
      model: "org/plain",
      messages: [{ role: "user", content: "hi" }],
      prompt: "hi",
      input: "hi",
      max_tokens: 2,
    };
    const body = fc.oneof(
      fc.json(),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc
        .dictionary(
          fc.constantFrom(
            "model",
            "messages",
            "prompt",
            "input",
            "max_tokens",
            "stream",
            "tools",
            "n",
            "temperature",
            "stream_options",
            "encoding_format",
          ),
          fc.jsonValue(),
        )
        .map((extra) => JSON.stringify({ ...valid, ...extra })),
      fc.string(),
    );
    const headers = fc.record(
      {
        "content-type": fc.constantFrom("application/json", "text/plain", "application/x-www-form-urlencoded", ""),
        "x-request-id": fc.string({ maxLength: 200 }),
        accept: fc.string({ maxLength: 50 }),
      },
      { requiredKeys: [] },
    );
    let count = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), body, headers, async (route, payload, extra) => {
        const clean = Object.fromEntries(Object.entries(extra).filter(([, v]) => /^[\t\x20-\x7e]*$/.test(v)));
        const res = await post(h, route, payload, clean);
        count++;
        // The simulator behind it never fails, so any 5xx (a crash surfacing as a 502 too) is ours.
        return res.status >= 200 && res.status < 500;
      }),
      { numRuns: 6000 },
    );
    expect(count).toBe(6000);
  });
});

describe("gateway limits and failures", () => {
  it("answers 429 with Retry-After and OpenAI's headers once a user's request limit is reached", async () => {
    const h = await startGatewayHarness({
      extraConfig: "  limits:\n    user: { requestsPerMinute: 3, tokensPerMinute: 100000 }",
      waitFor: ["org/plain"],
    });
    try {
      for (let i = 0; i < 3; i++)
        await h.client.chat.completions.create({
          model: "org/plain",
          messages: [{ role: "user", content: "hi" }],
          max_tokens: 1,
        });
      const error = await h.client.chat.completions
        .create({ model: "org/plain", messages: [{ role: "user", content: "hi" }], max_tokens: 1 })
        .catch((e) => e);
      expect(error).toBeInstanceOf(OpenAI.RateLimitError);
      expect(error.code).toBe("rate_limit_requests");
      expect(Number(error.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(error.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    } finally {
      await h.close();
    }
  });

  it("answers 503 with the model's state and Retry-After when a cold model is not live within holdSeconds", async () => {
    const h = await startGatewayHarness({ extraConfig: "  holdSeconds: 0", waitFor: [] });
    try {
      const res = await post(h, "/v1/chat/completions", {
        model: "org/cold",
        messages: [{ role: "user", content: "hi" }],
      });
      expect(res.status).toBe(503);
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(Number(res.headers.get("retry-after"))).toBeLessThanOrEqual(60);
      expect(res.json.error).toMatchObject({
        code: "model_not_ready",
        model_state: expect.stringMatching(/queued|starting/),
      });
      // A client that retries as told is served once the model is live.
      let status = 503;
      for (let i = 0; i < 40 && status === 503; i++) {
        await new Promise((r) => setTimeout(r, 250));
        status = (
          await post(h, "/v1/chat/completions", {
            model: "org/cold",
            messages: [{ role: "user", content: "hi" }],
            max_tokens: 2,
          })
        ).status;
      }
      expect(status).toBe(200);
    } finally {
      await h.close();
    }
  });

  it("turns model server failures into 502 and slowness into 504", async () => {
    const h = await startGatewayHarness({
      extraConfig: "  upstreamTimeout: 1s",
      waitFor: ["org/plain"],
    });
    try {
      const plain = h.server.ctx.config.models.find((m) => m.id === "org/plain");
      expect(plain).toBeDefined();
      // A simulator that fails every request, and one that takes 3 s to the first token.
      const { startSimulator } = await import("@switchyard/engines");
      const failing = await startSimulator({ model: "org/plain", failRate: 1, failStatus: 500 });
      const slow = await startSimulator({ model: "org/plain", timeToFirstToken: 3 });
      try {
        const route = async (url: string) => {
          const record = h.server.ctx.scheduler
            .deployments()
            .find((d) => d.state === "live" && h.server.ctx.scheduler.modelOf(d)?.id === "org/plain");
          const u = new URL(url);
          await h.server.ctx.db.prisma.deployment.update({
            where: { id: record!.id },
            data: { host: u.hostname, port: Number(u.port) },
          });
          await h.server.ctx.scheduler.reload();
        };
        await route(failing.url);
        const failed = await post(h, "/v1/chat/completions", {
          model: "org/plain",
          messages: [{ role: "user", content: "hi" }],
        });
        expect(failed).toMatchObject({
          status: 502,
          json: { error: { code: "upstream_error", type: "server_error" } },
        });
        await route(slow.url);
        const timedOut = await post(h, "/v1/chat/completions", {
          model: "org/plain",
          messages: [{ role: "user", content: "hi" }],
        });
        expect(timedOut).toMatchObject({ status: 504, json: { error: { code: "upstream_timeout" } } });
      } finally {
        await failing.close();
        await slow.close();
      }
    } finally {
      await h.close();
    }
  });

  it("lets a member of the model's group through", async () => {
    const h = await startGatewayHarness({ waitFor: ["org/secret"] });
    try {
      const vip = await createUser(h.server.ctx.db.prisma, {
        username: "vip-user",
        password: "vip-password-1",
        groups: ["vip"],
      });
      const { key } = await createApiKey(h.server.ctx.db.prisma, { userId: vip.id });
      const client = new OpenAI({ apiKey: key, baseURL: `${h.server.url}/v1`, maxRetries: 0 });
      const answer = await client.chat.completions.create({
        model: "org/secret",
        messages: [{ role: "user", content: "hi" }],
        max_tokens: 2,
      });
      expect(answer.model).toBe("org/secret");
    } finally {
      await h.close();
    }
  });
});
