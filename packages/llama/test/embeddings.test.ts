import type OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningLlamaServer } from "../src";
import { modelShape } from "../src/gguf";
import { llamaServer, openai, post } from "./helpers";

const MODEL = "tiny-embedding";
let server: RunningLlamaServer;
let client: OpenAI;

beforeAll(async () => {
  server = await llamaServer({ model: "generated:tiny-embedding" });
  await server.ready;
  client = openai(server);
});
afterAll(() => server?.close());

const norm = (vector: number[]) => Math.sqrt(vector.reduce((sum, v) => sum + v * v, 0));

describe("embeddings from the generated embedding model", () => {
  it("have the model's dimensions, unit length, the same vector for the same text, and count tokens", async () => {
    const response = await client.embeddings.create({
      model: MODEL,
      input: ["hello world", "the model", "hello world"],
      encoding_format: "float",
    });
    const dimensions = modelShape("tiny").embeddingLength;
    expect(response.data.map((d) => d.index)).toEqual([0, 1, 2]);
    for (const { embedding } of response.data) {
      expect(embedding).toHaveLength(dimensions);
      expect(norm(embedding)).toBeCloseTo(1, 5);
    }
    expect(response.data[2]?.embedding).toEqual(response.data[0]?.embedding);
    expect(response.data[1]?.embedding).not.toEqual(response.data[0]?.embedding);
    // BOS, then the text's tokens, per input (by the model's own tokenizer).
    const counts = await Promise.all(
      ["hello world", "the model", "hello world"].map(async (content) => {
        const { tokens } = (await (await post(server, "/tokenize", { content })).json()) as { tokens: number[] };
        return tokens.length + 1;
      }),
    );
    const total = counts.reduce((a, b) => a + b, 0);
    expect(response.usage).toEqual({ prompt_tokens: total, total_tokens: total });
  });

  it("as base64 are the same float32 values, little-endian", async () => {
    const float = await client.embeddings.create({ model: MODEL, input: "base64 please", encoding_format: "float" });
    const raw = await post(server, "/v1/embeddings", {
      model: MODEL,
      input: "base64 please",
      encoding_format: "base64",
    });
    const body = (await raw.json()) as { data: Array<{ embedding: string }> };
    const bytes = Buffer.from(body.data[0]?.embedding ?? "", "base64");
    const decoded = Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
    expect(decoded).toEqual(float.data[0]?.embedding);
    // The openai package decodes base64 by itself (its default format).
    const viaSdk = await client.embeddings.create({ model: MODEL, input: "base64 please" });
    expect(viaSdk.data[0]?.embedding).toEqual(float.data[0]?.embedding);
  });

  it("refuses dimensions the model does not have", async () => {
    const response = await post(server, "/v1/embeddings", { model: MODEL, input: "x", dimensions: 32 });
    expect(response.status).toBe(400);
    expect(((await response.json()) as any).error).toMatchObject({ code: "invalid_field", param: "dimensions" });
  });
});
