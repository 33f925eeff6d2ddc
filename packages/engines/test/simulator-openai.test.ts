import OpenAI, { type APIError } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { countTokens, type RunningSimulator, tokenize } from "../src";
import { MODEL, openai, post, simulator } from "./helpers";

const hello = [
  { role: "system" as const, content: "You are a helpful assistant." },
  { role: "user" as const, content: "Tell me about the simulator, briefly." },
];

const weatherTool = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "Current weather for a city",
    parameters: {
      type: "object",
      properties: {
        city: { type: "string" },
        days: { type: "integer" },
        unit: { type: "string", enum: ["celsius", "fahrenheit"] },
        verbose: { type: "boolean" },
      },
      required: ["city", "days", "unit"],
    },
  },
};

describe("the simulator through the openai SDK", () => {
  let sim: RunningSimulator;
  let client: OpenAI;

  beforeAll(async () => {
    sim = await simulator({
      capabilities: ["chat", "completions", "embedding", "tools"],
      maxModelLen: 4096,
      embeddingDimensions: 256,
    });
    client = openai(sim);
  });
  afterAll(() => sim.close());

  it("answers a chat completion, labelled as the simulator", async () => {
    const { data, response } = await client.chat.completions
      .create({ model: MODEL, messages: hello, max_tokens: 200 })
      .withResponse();
    expect(response.headers.get("x-switchyard-simulator")).toBe("1");
    expect(data.object).toBe("chat.completion");
    expect(data.model).toBe(MODEL);
    expect(data.system_fingerprint).toBe("switchyard-simulator");
    expect(data.choices).toHaveLength(1);
    const choice = data.choices[0]!;
    expect(choice.finish_reason).toBe("stop");
    expect(choice.message.role).toBe("assistant");
    expect(choice.message.content).toMatch(/^[A-Z][a-z]+.*\.$/);
    const usage = data.usage!;
    // the tokenizer is the one documented: the answer's tokens are what completion_tokens counts
    expect(usage.completion_tokens).toBe(countTokens(choice.message.content!));
    expect(usage.completion_tokens).toBeGreaterThanOrEqual(16);
    expect(usage.completion_tokens).toBeLessThanOrEqual(48);
    expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens);
    // 2 messages x 4 + reply primer 3 + the text's tokens
    expect(usage.prompt_tokens).toBe(
      2 * 4 + 3 + countTokens("You are a helpful assistant.") + countTokens("Tell me about the simulator, briefly."),
    );
  });

  it("streams the same answer one token per chunk, role first", async () => {
    const plain = await client.chat.completions.create({ model: MODEL, messages: hello });
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: hello,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0]!.choices[0]!.delta.role).toBe("assistant");
    const contentChunks = chunks.filter((c) => c.choices[0]?.delta.content);
    const text = contentChunks.map((c) => c.choices[0]!.delta.content).join("");
    expect(text).toBe(plain.choices[0]!.message.content);
    expect(contentChunks.map((c) => c.choices[0]!.delta.content)).toEqual(tokenize(text));
    const finish = chunks.find((c) => c.choices[0]?.finish_reason);
    expect(finish!.choices[0]!.finish_reason).toBe("stop");
    // include_usage: a last chunk with no choices and the usage
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual(plain.usage);
    expect(last.usage!.completion_tokens).toBe(contentChunks.length);
    expect(chunks.every((c) => c.id === chunks[0]!.id && c.system_fingerprint === "switchyard-simulator")).toBe(true);
  });

  it("sends no usage chunk unless asked", async () => {
    const stream = await client.chat.completions.create({ model: MODEL, messages: hello, stream: true });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.some((c) => c.usage)).toBe(false);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe("stop");
  });

  it("cuts at max_tokens with finish_reason length, stream or not", async () => {
    const plain = await client.chat.completions.create({ model: MODEL, messages: hello, max_tokens: 5 });
    expect(plain.choices[0]!.finish_reason).toBe("length");
    expect(plain.usage!.completion_tokens).toBe(5);
    const full = await client.chat.completions.create({ model: MODEL, messages: hello });
    expect(full.choices[0]!.message.content!.startsWith(plain.choices[0]!.message.content!)).toBe(true);

    const capped = await client.chat.completions.create({ model: MODEL, messages: hello, max_completion_tokens: 3 });
    expect(capped.usage!.completion_tokens).toBe(3);

    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: hello,
      max_tokens: 5,
      stream: true,
      stream_options: { include_usage: true },
    });
    let pieces = 0;
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) pieces++;
      finish ??= chunk.choices[0]?.finish_reason;
      usage ??= chunk.usage;
    }
    expect(pieces).toBe(5);
    expect(finish).toBe("length");
    expect(usage?.completion_tokens).toBe(5);
  });

  it("generates exactly max_tokens with vLLM's ignore_eos", async () => {
    const body = { model: MODEL, messages: hello, max_tokens: 100, ignore_eos: true };
    const answer = await client.chat.completions.create(body as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(answer.usage!.completion_tokens).toBe(100);
    expect(answer.choices[0]!.finish_reason).toBe("length");
  });

  it("stops before a stop string", async () => {
    const full = (await client.chat.completions.create({ model: MODEL, messages: hello })).choices[0]!.message.content!;
    const stopAt = full.split(" ")[3]!; // the fourth word
    const cut = await client.chat.completions.create({ model: MODEL, messages: hello, stop: [stopAt, "zzz"] });
    const text = cut.choices[0]!.message.content!;
    expect(text).toBe(full.slice(0, full.indexOf(stopAt)));
    expect(text).not.toContain(stopAt);
    expect(cut.choices[0]!.finish_reason).toBe("stop");
  });

  it("gives n choices, each its own text", async () => {
    const answer = await client.chat.completions.create({ model: MODEL, messages: hello, n: 3 });
    expect(answer.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(new Set(answer.choices.map((c) => c.message.content)).size).toBe(3);
    const sum = answer.choices.reduce((n, c) => n + countTokens(c.message.content!), 0);
    expect(answer.usage!.completion_tokens).toBe(sum);
  });

  it("is deterministic: the same request gives the same text, a different one does not", async () => {
    const a = await client.chat.completions.create({ model: MODEL, messages: hello });
    const b = await client.chat.completions.create({ model: MODEL, messages: hello });
    expect(b.choices[0]!.message.content).toBe(a.choices[0]!.message.content);
    const other = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "Something else entirely." }],
    });
    expect(other.choices[0]!.message.content).not.toBe(a.choices[0]!.message.content);
    const seeded = await client.chat.completions.create({ model: MODEL, messages: hello, seed: 7 });
    expect(seeded.choices[0]!.message.content).not.toBe(a.choices[0]!.message.content);

    // and across simulator runs with the same seed
    const again = await simulator({ capabilities: ["chat"] });
    try {
      const c = await openai(again).chat.completions.create({ model: MODEL, messages: hello });
      expect(c.choices[0]!.message.content).toBe(a.choices[0]!.message.content);
    } finally {
      await again.close();
    }
    const reseeded = await simulator({ capabilities: ["chat"], seed: 99 });
    try {
      const d = await openai(reseeded).chat.completions.create({ model: MODEL, messages: hello });
      expect(d.choices[0]!.message.content).not.toBe(a.choices[0]!.message.content);
    } finally {
      await reseeded.close();
    }
  });

  it("answers legacy completions, 16 tokens by default", async () => {
    const answer = await client.completions.create({ model: MODEL, prompt: "Once upon a time" });
    expect(answer.object).toBe("text_completion");
    expect(answer.usage!.prompt_tokens).toBe(countTokens("Once upon a time"));
    expect(answer.usage!.completion_tokens).toBe(countTokens(answer.choices[0]!.text));
    expect(answer.usage!.completion_tokens).toBeLessThanOrEqual(16);

    const many = await client.completions.create({ model: MODEL, prompt: ["one", "two"], n: 2, max_tokens: 4 });
    expect(many.choices.map((c) => c.index)).toEqual([0, 1, 2, 3]);
    expect(many.usage!.completion_tokens).toBe(16);

    const stream = await client.completions.create({
      model: MODEL,
      prompt: "Once upon a time",
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? "";
      usage ??= chunk.usage ?? undefined;
    }
    expect(text).toBe(answer.choices[0]!.text);
    expect(usage).toEqual(answer.usage);
  });

  it("embeds deterministically, as floats or base64 of the same float32 values", async () => {
    const float = await client.embeddings.create({
      model: MODEL,
      input: "The food was delicious",
      encoding_format: "float",
    });
    const vector = float.data[0]!.embedding;
    expect(vector).toHaveLength(256);
    expect(Math.hypot(...vector)).toBeCloseTo(1, 5);
    expect(float.usage.prompt_tokens).toBe(countTokens("The food was delicious"));

    const b64 = await client.embeddings.create({
      model: MODEL,
      input: "The food was delicious",
      encoding_format: "base64",
    });
    const encoded = b64.data[0]!.embedding as unknown as string;
    expect(typeof encoded).toBe("string");
    const bytes = Buffer.from(encoded, "base64");
    const decoded = Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
    expect(decoded).toEqual(vector);

    // the SDK's default (base64 on the wire, decoded for you) gives the same numbers
    const sdkDefault = await client.embeddings.create({ model: MODEL, input: "The food was delicious" });
    expect(Array.from(sdkDefault.data[0]!.embedding)).toEqual(vector);

    const again = await client.embeddings.create({
      model: MODEL,
      input: "The food was delicious",
      encoding_format: "float",
    });
    expect(again.data[0]!.embedding).toEqual(vector);
    const other = await client.embeddings.create({
      model: MODEL,
      input: "The food was awful",
      encoding_format: "float",
    });
    expect(other.data[0]!.embedding).not.toEqual(vector);

    const batch = await client.embeddings.create({
      model: MODEL,
      input: ["The food was delicious", "The food was awful"],
      encoding_format: "float",
      dimensions: 64,
    });
    expect(batch.data.map((d) => d.index)).toEqual([0, 1]);
    const short = batch.data[0]!.embedding;
    expect(short).toHaveLength(64);
    expect(Math.hypot(...short)).toBeCloseTo(1, 5);
    // truncated and renormalised: same direction as the full vector's first 64 values
    const head = vector.slice(0, 64);
    const scale = Math.hypot(...head);
    for (const [i, value] of short.entries()) expect(value).toBeCloseTo(head[i]! / scale, 5);
  });

  it("calls a tool when tool_choice requires it, with arguments from its schema", async () => {
    const answer = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "What should I wear?" }],
      tools: [weatherTool],
      tool_choice: "required",
    });
    const choice = answer.choices[0]!;
    expect(choice.finish_reason).toBe("tool_calls");
    expect(choice.message.content).toBeNull();
    const call = choice.message.tool_calls![0]!;
    expect(call.id).toMatch(/^call_/);
    expect(call.type).toBe("function");
    if (call.type !== "function") throw new Error("expected a function call");
    expect(call.function.name).toBe("get_weather");
    const args = JSON.parse(call.function.arguments);
    expect(Object.keys(args).sort()).toEqual(["city", "days", "unit"]);
    expect(typeof args.city).toBe("string");
    expect(Number.isInteger(args.days)).toBe(true);
    expect(["celsius", "fahrenheit"]).toContain(args.unit);

    // the same request streamed: the name first, then the arguments in pieces
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "What should I wear?" }],
      tools: [weatherTool],
      tool_choice: "required",
      stream: true,
      stream_options: { include_usage: true },
    });
    let name = "";
    let streamedArgs = "";
    let id: string | undefined;
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta.tool_calls?.[0];
      if (delta?.id) id = delta.id;
      name += delta?.function?.name ?? "";
      streamedArgs += delta?.function?.arguments ?? "";
      finish ??= chunk.choices[0]?.finish_reason;
      usage ??= chunk.usage;
    }
    expect({ id, name, streamedArgs, finish }).toEqual({
      id: call.id,
      name: "get_weather",
      streamedArgs: call.function.arguments,
      finish: "tool_calls",
    });
    expect(usage).toEqual(answer.usage);
  });

  it("calls a named tool, or one the user mentions when tool_choice is auto", async () => {
    const other = { type: "function" as const, function: { name: "get_time", parameters: { type: "object" } } };
    const named = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "Hi" }],
      tools: [weatherTool, other],
      tool_choice: { type: "function", function: { name: "get_time" } },
    });
    const namedCall = named.choices[0]!.message.tool_calls![0]!;
    expect(namedCall.type === "function" && namedCall.function).toEqual({ name: "get_time", arguments: "{}" });

    const mentioned = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "Please use get_weather for Paris" }],
      tools: [weatherTool, other],
    });
    const mentionedCall = mentioned.choices[0]!.message.tool_calls![0]!;
    expect(mentionedCall.type === "function" && mentionedCall.function.name).toBe("get_weather");

    const chat = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "Just chat with me" }],
      tools: [weatherTool, other],
      tool_choice: "auto",
    });
    expect(chat.choices[0]!.finish_reason).toBe("stop");
    expect(chat.choices[0]!.message.tool_calls ?? undefined).toBeUndefined();

    const unknown = client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "Hi" }],
      tools: [weatherTool],
      tool_choice: { type: "function", function: { name: "nope" } },
    });
    await expect(unknown).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/Tool 'nope'/) });
  });

  it("rejects a prompt plus max_tokens over the context length with the SDK's BadRequestError", async () => {
    const error = await client.chat.completions
      .create({ model: MODEL, messages: hello, max_tokens: 5000 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    const bad = error as InstanceType<typeof OpenAI.BadRequestError>;
    expect(bad.status).toBe(400);
    expect(bad.message).toMatch(/maximum context length is 4096 tokens\. However, you requested \d+ tokens/);
    expect(bad.type).toBe("BadRequestError");

    const long = "word ".repeat(5000);
    await expect(
      client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: long }] }),
    ).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/your request has \d+ input tokens/) });
    await expect(client.embeddings.create({ model: MODEL, input: long })).rejects.toBeInstanceOf(
      OpenAI.BadRequestError,
    );
  });

  it("answers 404 NotFoundError for another model", async () => {
    const error = await client.chat.completions
      .create({ model: "acme/other", messages: hello })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect((error as APIError).message).toMatch(/The model `acme\/other` does not exist/);
  });

  it("lists its one model as the simulator's", async () => {
    const models = await client.models.list();
    expect(models.data).toEqual([
      expect.objectContaining({ id: MODEL, object: "model", owned_by: "switchyard-simulator", max_model_len: 4096 }),
    ]);
  });
});

describe("capabilities the model does not have", () => {
  let chatOnly: RunningSimulator;
  let embedOnly: RunningSimulator;
  beforeAll(async () => {
    chatOnly = await simulator({ capabilities: ["chat"] });
    embedOnly = await simulator({ capabilities: ["embedding"] });
  });
  afterAll(async () => {
    await chatOnly.close();
    await embedOnly.close();
  });

  it("refuses tools with auto or required choice without the tools capability, like vLLM", async () => {
    const client = openai(chatOnly);
    const tools = [weatherTool];
    const auto = await client.chat.completions
      .create({ model: MODEL, messages: hello, tools })
      .catch((e: unknown) => e);
    expect(auto).toBeInstanceOf(OpenAI.BadRequestError);
    expect((auto as APIError).message).toMatch(/"auto" tool choice requires --enable-auto-tool-choice/);
    await expect(
      client.chat.completions.create({ model: MODEL, messages: hello, tools, tool_choice: "required" }),
    ).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    // tool_choice none: the tools are ignored
    const none = await client.chat.completions.create({ model: MODEL, messages: hello, tools, tool_choice: "none" });
    expect(none.choices[0]!.finish_reason).toBe("stop");
  });

  it("refuses images without vision, accepts them with it", async () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [
      {
        role: "user",
        content: [
          { type: "text", text: "What is in this picture?" },
          { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
        ],
      },
    ];
    const error = await openai(chatOnly)
      .chat.completions.create({ model: MODEL, messages })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as APIError).message).toMatch(/not a multimodal model/);

    const vision = await simulator({ capabilities: ["chat", "vision"] });
    try {
      const answer = await openai(vision).chat.completions.create({ model: MODEL, messages });
      // an image counts a fixed 256 tokens
      expect(answer.usage!.prompt_tokens).toBe(4 + 3 + countTokens("What is in this picture?") + 256);
    } finally {
      await vision.close();
    }
  });

  it("refuses embeddings on a chat model and chat on an embedding model", async () => {
    const noEmbed = await openai(chatOnly)
      .embeddings.create({ model: MODEL, input: "x", encoding_format: "float" })
      .catch((e: unknown) => e);
    expect(noEmbed).toBeInstanceOf(OpenAI.BadRequestError);
    expect((noEmbed as APIError).message).toBe("400 The model does not support Embeddings API");

    const noChat = await openai(embedOnly)
      .chat.completions.create({ model: MODEL, messages: hello })
      .catch((e: unknown) => e);
    expect(noChat).toBeInstanceOf(OpenAI.BadRequestError);
    expect((noChat as APIError).message).toMatch(/does not support Chat Completions API/);
    await expect(openai(chatOnly).completions.create({ model: MODEL, prompt: "x" })).rejects.toBeInstanceOf(
      OpenAI.BadRequestError,
    );
  });

  it("fills reasoning_content for reasoning models, counted in completion_tokens", async () => {
    const thinker = await simulator({ capabilities: ["chat", "reasoning"] });
    try {
      const client = openai(thinker);
      const answer = await client.chat.completions.create({ model: MODEL, messages: hello });
      const message = answer.choices[0]!.message as OpenAI.ChatCompletionMessage & { reasoning_content?: string };
      expect(message.reasoning_content).toMatch(/^Okay, let me think about this\./);
      const reasoningTokens = countTokens(message.reasoning_content!);
      expect(answer.usage!.completion_tokens).toBe(reasoningTokens + countTokens(message.content!));
      expect(answer.usage!.completion_tokens_details?.reasoning_tokens).toBe(reasoningTokens);

      const stream = await client.chat.completions.create({ model: MODEL, messages: hello, stream: true });
      const kinds: string[] = [];
      let reasoning = "";
      for await (const chunk of stream) {
        const delta = chunk.choices[0]?.delta as { reasoning_content?: string; content?: string } | undefined;
        if (delta?.reasoning_content) {
          kinds.push("reasoning");
          reasoning += delta.reasoning_content;
        } else if (delta?.content) kinds.push("content");
      }
      expect(reasoning).toBe(message.reasoning_content);
      // every reasoning chunk comes before the first content chunk
      expect(kinds.indexOf("content")).toBe(kinds.lastIndexOf("reasoning") + 1);
    } finally {
      await thinker.close();
    }
  });
});

describe("malformed requests", () => {
  let sim: RunningSimulator;
  beforeAll(async () => {
    sim = await simulator();
  });
  afterAll(() => sim.close());

  it("answers 400 in vLLM's error shape for malformed JSON", async () => {
    const res = await post(sim, "/v1/chat/completions", '{"model": "x", "messages": [');
    expect(res.status).toBe(400);
    expect(res.headers.get("x-switchyard-simulator")).toBe("1");
    const body = await res.json();
    expect(body).toEqual({
      error: { message: expect.stringMatching(/not valid JSON/), type: "BadRequestError", param: null, code: 400 },
    });
  });

  it("answers 400 naming the field for a body that does not validate", async () => {
    const res = await post(sim, "/v1/chat/completions", { model: MODEL, messages: [{ role: "robot", content: "x" }] });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: {
        message: expect.stringMatching(/messages\[0\]\.role/),
        type: "BadRequestError",
        param: "messages[0].role",
        code: 400,
      },
    });
  });

  it("answers 404 for unknown paths and 405 for wrong methods", async () => {
    const missing = await fetch(`${sim.url}/v1/nothing`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { type: "NotFoundError", code: 404 } });
    const wrongMethod = await fetch(`${sim.url}/v1/chat/completions`);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("allow")).toBe("POST");
  });
});
