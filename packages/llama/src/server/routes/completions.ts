import { apiError, CompletionRequestSchema, parseOrThrow } from "@switchyard/core";
import { EventStream, sendJson } from "../http";
import { checkModel, checkTokenIds, newId, nowSeconds, type RouteContext, samplingParams, usage } from "../requests";

/** OpenAI's (and vLLM's) `max_tokens` when a completion request has none. */
const DEFAULT_MAX_TOKENS = 16;

/** One prompt: a string or a list of token ids (several prompts in one request are not batched here). */
function singlePrompt(prompt: unknown): string | number[] {
  if (typeof prompt === "string") return prompt;
  const list = prompt as unknown[];
  if (typeof list[0] === "number") return list as number[];
  if (list.length === 1) return list[0] as string | number[];
  throw apiError("invalid_field", {
    param: "prompt",
    detail: "this llama.cpp server takes one prompt per request (a string or a list of token ids)",
  });
}

export async function completions(ctx: RouteContext, raw: unknown): Promise<void> {
  const request = parseOrThrow(CompletionRequestSchema, raw);
  checkModel(ctx, request.model);
  if (request.echo) throw apiError("invalid_field", { param: "echo", detail: "echo is not supported by this server" });
  if (request.suffix)
    throw apiError("invalid_field", { param: "suffix", detail: "suffix is not supported by this server" });
  const prompt = singlePrompt(request.prompt);
  if (typeof prompt !== "string") checkTokenIds(ctx, prompt, "prompt");
  const tokens = ctx.engine.completionPrompt(prompt);
  const params = samplingParams(ctx, request, tokens.length, "prompt", DEFAULT_MAX_TOKENS);
  const id = newId("cmpl");
  const created = nowSeconds();
  const base = { id, object: "text_completion", created, model: ctx.modelId, system_fingerprint: "llama.cpp" };

  if (!request.stream) {
    const result = await ctx.engine.generate(tokens, params, ctx.signal, () => {});
    if (ctx.signal.aborted) return;
    sendJson(ctx.res, 200, {
      ...base,
      choices: [{ index: 0, text: result.text, finish_reason: result.finishReason, logprobs: null }],
      usage: usage(tokens.length, result.completionTokens),
    });
    return;
  }

  const stream = new EventStream(ctx.res);
  stream.start();
  const result = await ctx.engine.generate(tokens, params, ctx.signal, (text) =>
    stream.send({ ...base, choices: [{ index: 0, text, finish_reason: null, logprobs: null }] }),
  );
  if (ctx.signal.aborted) return;
  await stream.send({ ...base, choices: [{ index: 0, text: "", finish_reason: result.finishReason, logprobs: null }] });
  if (request.stream_options?.include_usage) {
    await stream.send({ ...base, choices: [], usage: usage(tokens.length, result.completionTokens) });
  }
  stream.end();
}
