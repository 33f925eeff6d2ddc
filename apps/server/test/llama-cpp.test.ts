import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ModelListSchema } from "@switchyard/core";
import { LlamaEngine, parseLlamaServerOptions } from "@switchyard/llama";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../src";
import { ADMIN_PASSWORD, memoryLogger, passwordToken, tempDataDir } from "./helpers";

const EXAMPLE = fileURLToPath(new URL("../../../examples/llama-cpp.yaml", import.meta.url));
const CHAT = "llama-cpp/tiny-chat";
const EMBEDDING = "llama-cpp/tiny-embedding";
// The generated models are shared with the llama package's tests (same bytes, written once).
process.env.SWITCHYARD_CACHE_DIR = path.join(tmpdir(), "switchyard-test-cache");

let server: RunningServer;
let client: OpenAI;
let token: string;

async function statuses(): Promise<Record<string, string | undefined>> {
  const res = await fetch(`${server.url}/v1/models`, { headers: { authorization: `Bearer ${token}` } });
  return Object.fromEntries(ModelListSchema.parse(await res.json()).data.map((m) => [m.id, m.status]));
}

async function until(condition: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  server = await startServer({
    port: 0,
    host: "127.0.0.1",
    dataDir: tempDataDir(),
    configFile: EXAMPLE,
    inMemoryDatabase: true,
    batchWorker: false,
    logger: memoryLogger().logger,
    env: { SWITCHYARD_ADMIN_PASSWORD: ADMIN_PASSWORD },
  });
  token = await passwordToken(server.url);
  client = new OpenAI({ apiKey: token, baseURL: `${server.url}/v1`, maxRetries: 0 });
  // The hot model starts with serve: a real llama.cpp process from the local launcher.
  await until(async () => (await statuses())[CHAT] === "live");
});
afterAll(() => server?.close());

describe("switchyard serve --config examples/llama-cpp.yaml", () => {
  it("chats with the generated model through the gateway: llama.cpp's answer, its tokenizer's usage", async () => {
    const question = "Hello there, what is the answer?";
    const messages = [{ role: "user" as const, content: question }];
    const answer = await client.chat.completions.create({ model: CHAT, messages, max_tokens: 8, seed: 5 });
    expect(answer.system_fingerprint).toBe("llama.cpp");
    expect(answer.choices[0]?.message.content?.length).toBeGreaterThan(0);

    // The prompt's tokens by the same GGUF's chat template and tokenizer, counted here in-process.
    const engine = await LlamaEngine.load(
      parseLlamaServerOptions({ model: "generated:tiny-chat", threads: 1, parallel: 1, gpu: "none", ctx: 256 }),
      () => {},
    );
    const promptTokens = engine.chatPrompt([{ type: "user", text: question }]).tokens.length;
    await engine.close();
    expect(answer.usage?.prompt_tokens).toBe(promptTokens);
    expect(answer.usage?.total_tokens).toBe(promptTokens + (answer.usage?.completion_tokens ?? 0));

    const stream = await client.chat.completions.create({
      model: CHAT,
      messages,
      max_tokens: 8,
      seed: 5,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("")).toBe(answer.choices[0]?.message.content);
    expect(chunks.at(-1)?.usage).toEqual(answer.usage);
  });

  it("starts the dynamic embedding model on its first request, with the model's dimensions", async () => {
    expect((await statuses())[EMBEDDING]).toBe("offline");
    // The gateway holds the request while llama.cpp loads; on a busy machine that can outlast the
    // hold, and the 503's Retry-After is what a client follows (the openai package does).
    const patient = new OpenAI({ apiKey: token, baseURL: `${server.url}/v1`, maxRetries: 3 });
    const response = await patient.embeddings.create({ model: EMBEDDING, input: ["hello", "world"] });
    expect(response.data.map((d) => d.embedding.length)).toEqual([64, 64]);
    expect((await statuses())[EMBEDDING]).toBe("live");
  });
});
