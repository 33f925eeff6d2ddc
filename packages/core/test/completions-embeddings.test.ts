import { describe, expect, it } from "vitest";
import {
  CompletionRequestSchema,
  EmbeddingRequestSchema,
  EmbeddingResponseSchema,
  parseOrThrow,
  SwitchyardError,
} from "../src";

function rejection(schema: Parameters<typeof parseOrThrow>[0], body: unknown) {
  try {
    parseOrThrow(schema, body);
  } catch (error) {
    if (error instanceof SwitchyardError) return { status: error.status, code: error.code, param: error.param };
    throw error;
  }
  throw new Error("expected a rejection");
}

describe("completions", () => {
  it.each([
    ["a string prompt", { model: "m", prompt: "Say this is a test", max_tokens: 7, temperature: 0 }],
    ["several prompts", { model: "m", prompt: ["a", "b"], n: 2, echo: true, logprobs: 2 }],
    ["token ids", { model: "m", prompt: [1, 2, 3], stream: true, stream_options: { include_usage: true } }],
    ["lists of token ids", { model: "m", prompt: [[1, 2], [3]], suffix: "end", best_of: 2 }],
  ])("accepts %s", (_name, body) => {
    expect(parseOrThrow(CompletionRequestSchema, body)).toEqual(body);
  });

  it.each([
    ["no prompt", { model: "m" }, "missing_required_field", "prompt"],
    ["an empty prompt list", { model: "m", prompt: [] }, "invalid_field", "prompt"],
    ["a prompt of objects", { model: "m", prompt: { text: "x" } }, "invalid_field", "prompt"],
    ["logprobs above 20", { model: "m", prompt: "x", logprobs: 21 }, "invalid_field", "logprobs"],
  ])("rejects %s", (_name, body, code, param) => {
    expect(rejection(CompletionRequestSchema, body)).toEqual({ status: 400, code, param });
  });
});

describe("embeddings", () => {
  it.each([
    ["a string", { model: "e", input: "The food was delicious and the waiter...", encoding_format: "float" }],
    ["several strings", { model: "e", input: ["a", "b"], encoding_format: "base64", dimensions: 256 }],
    ["token ids", { model: "e", input: [1, 2, 3] }],
    ["extra fields for the server", { model: "e", input: "x", truncate_prompt_tokens: 512 }],
  ])("accepts %s", (_name, body) => {
    expect(parseOrThrow(EmbeddingRequestSchema, body)).toEqual(body);
  });

  it.each([
    ["no input", { model: "e" }, "missing_required_field", "input"],
    ["an empty list", { model: "e", input: [] }, "invalid_field", "input"],
    ["an unknown encoding", { model: "e", input: "x", encoding_format: "int8" }, "invalid_field", "encoding_format"],
    ["zero dimensions", { model: "e", input: "x", dimensions: 0 }, "invalid_field", "dimensions"],
  ])("rejects %s", (_name, body, code, param) => {
    expect(rejection(EmbeddingRequestSchema, body)).toEqual({ status: 400, code, param });
  });

  it("parses float and base64 responses", () => {
    const response = {
      object: "list",
      data: [
        { object: "embedding", index: 0, embedding: [0.1, -0.2] },
        { object: "embedding", index: 1, embedding: "zczMPc3MTL4=" },
      ],
      model: "e",
      usage: { prompt_tokens: 4, total_tokens: 4 },
    };
    expect(EmbeddingResponseSchema.parse(response)).toEqual(response);
  });
});
