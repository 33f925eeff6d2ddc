import { tmpdir } from "node:os";
import path from "node:path";
import OpenAI from "openai";
import { type LlamaServerOptionsInput, type RunningLlamaServer, startLlamaServer } from "../src";

/**
 * Generated models shared by the test files, and with the server's tests (its engines get
 * `SWITCHYARD_CACHE_DIR=<tmp>/switchyard-test-cache`): generation is deterministic, so reuse is safe.
 */
export const CACHE_DIR = path.join(tmpdir(), "switchyard-test-cache", "gguf");
export const API_KEY = "engine-test-key";

/**
 * A llama.cpp server on the tiny generated chat model: one thread (the test machine's two cores
 * are shared, and llama.cpp's spinning threads crawl when they contend), two sequences.
 */
export function llamaServer(options: Partial<LlamaServerOptionsInput> = {}): Promise<RunningLlamaServer> {
  return startLlamaServer({
    model: "generated:tiny-chat",
    threads: 1,
    parallel: 2,
    gpu: "none",
    apiKey: API_KEY,
    cacheDir: CACHE_DIR,
    logLevel: "silent",
    ...options,
  });
}

/**
 * vLLM's and llama-server's `ignore_eos`: generate exactly max_tokens, so a cut is exact. Spread
 * into a request (the openai package's types do not know the field).
 */
export const IGNORE_EOS: object = { ignore_eos: true };

export function openai(server: RunningLlamaServer, apiKey = API_KEY): OpenAI {
  return new OpenAI({ baseURL: `${server.url}/v1`, apiKey, maxRetries: 0 });
}

export async function post(server: RunningLlamaServer, route: string, body: unknown): Promise<Response> {
  return fetch(`${server.url}${route}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` },
    body: JSON.stringify(body),
  });
}

/** A metric's value from `GET /metrics` (the first series of that name). */
export async function metric(server: RunningLlamaServer, name: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${API_KEY}` } })).text();
  const line = text.split("\n").find((l) => l.startsWith(`llamacpp:${name} `) || l.startsWith(`llamacpp:${name}{`));
  if (!line) throw new Error(`no metric llamacpp:${name}`);
  return Number(line.slice(line.lastIndexOf(" ") + 1));
}

/** Poll until `condition` holds (bounded). */
export async function until(condition: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
