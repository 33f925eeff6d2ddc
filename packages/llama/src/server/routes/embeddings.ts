import { apiError, EmbeddingRequestSchema, parseOrThrow } from "@switchyard/core";
import { sendJson } from "../http";
import { checkModel, checkTokenIds, type RouteContext } from "../requests";

/** The inputs of a request: texts, or token-id lists. */
function inputsOf(input: unknown): Array<string | number[]> {
  if (typeof input === "string") return [input];
  const list = input as unknown[];
  if (typeof list[0] === "number") return [list as number[]];
  return list as Array<string | number[]>;
}

export async function embeddings(ctx: RouteContext, raw: unknown): Promise<void> {
  const request = parseOrThrow(EmbeddingRequestSchema, raw);
  checkModel(ctx, request.model);
  const dimensions = ctx.engine.embeddingLength;
  if (request.dimensions != null && request.dimensions !== dimensions) {
    throw apiError("invalid_field", {
      param: "dimensions",
      detail: `this model's embeddings have ${dimensions} dimensions and cannot be shortened`,
    });
  }
  const inputs = inputsOf(request.input);
  const window = ctx.engine.embeddingContextSize;
  // Every input is checked before any is evaluated: a bad last input costs no work.
  for (const [index, input] of inputs.entries()) {
    const param = inputs.length === 1 ? "input" : `input[${index}]`;
    if (typeof input !== "string") checkTokenIds(ctx, input, param);
    const length = typeof input === "string" ? ctx.engine.tokenize(input, false).length : input.length;
    if (length >= window) {
      throw apiError("invalid_field", {
        param,
        detail: `the input is about ${length} tokens and this server's context window is ${window}`,
      });
    }
  }
  const data: Array<{ object: "embedding"; index: number; embedding: number[] | string }> = [];
  let promptTokens = 0;
  for (const [index, input] of inputs.entries()) {
    if (ctx.signal.aborted) return;
    const { vector, tokens } = await ctx.engine.embed(input);
    promptTokens += tokens;
    data.push({
      object: "embedding",
      index,
      // base64: the float32 values' little-endian bytes, as OpenAI sends them.
      embedding:
        request.encoding_format === "base64"
          ? Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString("base64")
          : Array.from(vector),
    });
  }
  sendJson(ctx.res, 200, {
    object: "list",
    data,
    model: ctx.modelId,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  });
}
