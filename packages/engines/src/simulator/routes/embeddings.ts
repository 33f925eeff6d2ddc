import { EmbeddingRequestSchema, fnv1a, mixSeed, Random } from "@switchyard/core";
import { type Answer, checkModel, nowSeconds, parseBody, requireCapability, type SimulatorContext } from "../answer";
import { badRequest } from "../errors";
import { countTokens } from "../tokenizer";

/**
 * A deterministic unit vector for an input: a PRNG seeded with the input's hash fills the
 * model's full dimensions; `dimensions` keeps the first ones and renormalises (as Matryoshka
 * models do). Values are float32, so the float and base64 forms carry the same numbers.
 */
export function embeddingVector(
  seed: number,
  input: string | readonly number[],
  full: number,
  keep: number,
): Float32Array {
  const hash = typeof input === "string" ? fnv1a(input) : fnv1a(`ids:${input.join(",")}`);
  const random = new Random(mixSeed(seed, hash));
  const values = new Float64Array(full);
  for (let i = 0; i < full; i++) values[i] = random.next() * 2 - 1;
  let norm = 0;
  for (let i = 0; i < keep; i++) norm += (values[i] as number) ** 2;
  norm = Math.sqrt(norm) || 1;
  const out = new Float32Array(keep);
  for (let i = 0; i < keep; i++) out[i] = (values[i] as number) / norm;
  return out;
}

function base64(vector: Float32Array): string {
  const bytes = Buffer.alloc(vector.length * 4);
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i] as number, i * 4);
  return bytes.toString("base64");
}

function inputs(input: string | string[] | number[] | number[][]): (string | number[])[] {
  if (typeof input === "string") return [input];
  if (typeof input[0] === "number") return [input as number[]];
  return input as string[] | number[][];
}

export function embeddingAnswer(ctx: SimulatorContext, raw: unknown): Answer {
  const body = parseBody(EmbeddingRequestSchema, raw);
  checkModel(ctx, body.model);
  requireCapability(ctx, "embedding", "Embeddings API");
  const full = ctx.options.embeddingDimensions;
  const keep = body.dimensions ?? full;
  if (keep > full) {
    throw badRequest(`dimensions must be at most ${full} for ${ctx.options.model}, got ${keep}.`, "dimensions");
  }
  const limit = ctx.options.maxModelLen;
  let promptTokens = 0;
  const data = inputs(body.input).map((one, index) => {
    const tokens = typeof one === "string" ? countTokens(one) : one.length;
    if (tokens > limit) {
      throw badRequest(
        `This model's maximum context length is ${limit} tokens. However, you requested ${tokens} tokens in the input for embedding generation. Please reduce the length of the input.`,
      );
    }
    promptTokens += tokens;
    const vector = embeddingVector(ctx.options.seed, one, full, keep);
    return {
      index,
      object: "embedding",
      embedding: body.encoding_format === "base64" ? base64(vector) : Array.from(vector),
    };
  });
  const json = JSON.stringify({
    id: ctx.newId("embd-"),
    object: "list",
    created: nowSeconds(),
    model: ctx.options.model,
    data,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens, completion_tokens: 0 },
  });
  return {
    stream: false,
    promptTokens,
    completionTokens: 0,
    steps: 0,
    body: () => json,
    head: () => "",
    step: () => ({ text: "", tokens: 0 }),
    tail: () => "",
  };
}
