import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningLlamaServer } from "../src";
import { API_KEY, IGNORE_EOS, llamaServer, openai, post } from "./helpers";

const MODEL = "tiny-chat";
const messages = [
  { role: "system" as const, content: "You answer briefly." },
  { role: "user" as const, content: "Hello world, what is the answer?" },
];

let server: RunningLlamaServer;
let client: OpenAI;
let healthWhileLoading: { status: number; body: any };

beforeAll(async () => {
  server = await llamaServer();
  // Asked before the model has loaded: the server listens at once and says it is loading.
  const early = await fetch(`${server.url}/health`);
  healthWhileLoading = { status: early.status, body: await early.json() };
  await server.ready;
  client = openai(server);
});
afterAll(() => server?.close());

/** The prompt tokens of a conversation by the model's own tokenizer: its chat template's text, tokenized. */
async function tokenizerCount(conversation: unknown[]): Promise<number> {
  const { prompt } = (await (await post(server, "/apply-template", { messages: conversation })).json()) as {
    prompt: string;
  };
  const { tokens } = (await (await post(server, "/tokenize", { content: prompt, add_special: true })).json()) as {
    tokens: number[];
  };
  return tokens.length;
}

describe("the llama.cpp engine server", () => {
  it("answers /health 503 while the model loads, then 200; /v1/models says it is llama.cpp", async () => {
    expect(healthWhileLoading.status).toBe(503);
    expect(healthWhileLoading.body.error).toMatchObject({ code: "model_not_ready", type: "service_unavailable_error" });
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    const models = await client.models.list();
    expect(models.data).toHaveLength(1);
    expect(models.data[0]).toMatchObject({ id: MODEL, owned_by: "llamacpp", max_model_len: 4096 });
    expect((models.data[0] as any).meta).toMatchObject({ engine: "llama.cpp", backend: "cpu", n_embd: 64 });
  });

  it("chats with the GGUF's chat template; usage is the tokenizer's count, max_tokens cuts the answer", async () => {
    const completion = await client.chat.completions.create({
      model: MODEL,
      messages,
      max_tokens: 12,
      seed: 1,
      ...IGNORE_EOS,
    });
    expect(completion.object).toBe("chat.completion");
    expect(completion.choices[0]?.finish_reason).toBe("length");
    expect(completion.choices[0]?.message.content?.length).toBeGreaterThan(0);
    const expected = await tokenizerCount(messages);
    // ChatML wraps each message in markers: the template, not just the text, was tokenized.
    expect(expected).toBeGreaterThan(20);
    expect(completion.usage).toEqual({ prompt_tokens: expected, completion_tokens: 12, total_tokens: expected + 12 });
  });

  it("streams the same answer as it generates it, with a final usage chunk", async () => {
    const request = { model: MODEL, messages, max_tokens: 20, seed: 42, temperature: 0.8 };
    const plain = await client.chat.completions.create(request);
    const stream = await client.chat.completions.create({
      ...request,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
    expect(chunks[0]?.choices[0]?.delta?.role).toBe("assistant");
    // One chunk per piece of text as it is generated, not the whole answer at the end.
    expect(chunks.filter((c) => c.choices[0]?.delta?.content).length).toBeGreaterThan(3);
    expect(text).toBe(plain.choices[0]?.message.content);
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage).toEqual(plain.usage);
    expect(last?.usage?.prompt_tokens).toBe(await tokenizerCount(messages));
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe(plain.choices[0]?.finish_reason);
  });

  it("samples by seed and temperature, and ends the answer before a stop string", async () => {
    const ask = (extra: Record<string, unknown>) =>
      client.chat.completions.create({ model: MODEL, messages, max_tokens: 24, ...extra });
    const a = await ask({ seed: 7 });
    const b = await ask({ seed: 7 });
    const c = await ask({ seed: 8 });
    expect(b.choices[0]?.message.content).toBe(a.choices[0]?.message.content);
    expect(c.choices[0]?.message.content).not.toBe(a.choices[0]?.message.content);
    const greedy = await ask({ temperature: 0, seed: 1 });
    expect((await ask({ temperature: 0, seed: 2 })).choices[0]?.message.content).toBe(
      greedy.choices[0]?.message.content,
    );

    const full = a.choices[0]?.message.content ?? "";
    const words = full.trim().split(/\s+/);
    const stop = ` ${words[Math.min(3, words.length - 1)]}`;
    const cut = await ask({ seed: 7, stop: [stop] });
    expect(cut.choices[0]?.finish_reason).toBe("stop");
    expect(cut.choices[0]?.message.content).toBe(full.slice(0, full.indexOf(stop)));
  });

  it("completes a prompt: BOS plus the prompt's tokens, 16 tokens by default", async () => {
    const completion = await client.completions.create({
      model: MODEL,
      prompt: "the people would say",
      seed: 3,
      ...IGNORE_EOS,
    });
    const { tokens } = (await (await post(server, "/tokenize", { content: "the people would say" })).json()) as {
      tokens: number[];
    };
    expect(completion.usage).toEqual({
      prompt_tokens: tokens.length + 1,
      completion_tokens: 16,
      total_tokens: tokens.length + 17,
    });
    expect(completion.choices[0]).toMatchObject({ index: 0, finish_reason: "length" });
  });

  it("answers what a user got wrong in OpenAI's error shape from the catalogue", async () => {
    const failure = async (call: Promise<unknown>) => {
      const error = (await call.then(
        () => undefined,
        (e: unknown) => e,
      )) as InstanceType<typeof OpenAI.APIError>;
      expect(error).toBeInstanceOf(OpenAI.APIError);
      return { status: error.status, code: error.code, param: error.param, message: error.message };
    };
    expect(await failure(openai(server, "wrong").models.list())).toMatchObject({
      status: 401,
      code: "invalid_api_key",
    });
    expect(await failure(client.chat.completions.create({ model: "other", messages }))).toMatchObject({
      status: 404,
      code: "model_not_found",
      param: "model",
    });
    expect(await failure(client.chat.completions.create({ model: MODEL, messages: [] }))).toMatchObject({
      status: 400,
      code: "invalid_field",
      param: "messages",
    });
    const long = await failure(client.chat.completions.create({ model: MODEL, messages, max_tokens: 5000 }));
    expect(long).toMatchObject({ status: 400, code: "invalid_field", param: "max_tokens" });
    expect(long.message).toMatch(/context window is 4096/);
    expect(
      await failure(
        client.chat.completions.create({
          model: MODEL,
          messages,
          tools: [{ type: "function", function: { name: "f", parameters: {} } }],
        }),
      ),
    ).toMatchObject({ status: 422, code: "capability_not_supported" });
    const notJson = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${API_KEY}` },
      body: "{",
    });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as any).error.code).toBe("invalid_json");
  });
});
