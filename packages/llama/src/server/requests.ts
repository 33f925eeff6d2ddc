import { randomBytes, randomInt } from "node:crypto";
import type { ServerResponse } from "node:http";
import { apiError } from "@switchyard/core";
import type { LlamaEngine, SamplingParams } from "./engine";

/** What every route gets: the engine, the id it serves, and the client's request. */
export interface RouteContext {
  engine: LlamaEngine;
  /** The model id clients must name. */
  modelId: string;
  res: ServerResponse;
  /** Aborted when the client goes away: stops generation and frees the sequence. */
  signal: AbortSignal;
}

export function newId(prefix: string): string {
  return `${prefix}-${randomBytes(12).toString("hex")}`;
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export function checkModel(ctx: RouteContext, model: string): void {
  if (model !== ctx.modelId) throw apiError("model_not_found", { model }, { param: "model" });
}

/** Token ids a client sent must be in the vocabulary (llama.cpp would read out of bounds). */
export function checkTokenIds(ctx: RouteContext, ids: readonly number[], param: string): void {
  const vocabulary = ctx.engine.vocabularySize;
  const bad = ids.findIndex((token) => token >= vocabulary);
  if (bad >= 0) {
    throw apiError("invalid_field", {
      param: `${param}[${bad}]`,
      detail: `token id ${ids[bad]} is outside the vocabulary (${vocabulary} tokens)`,
    });
  }
}

interface SamplingFields {
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
  n?: number | null;
  /** vLLM's and llama-server's extensions: generate exactly max_tokens; sample from the k likeliest. */
  ignore_eos?: unknown;
  top_k?: unknown;
}

/**
 * Sampling settings from a request, checked against the context window: a prompt that fills
 * it, or a prompt plus `max_tokens` beyond it, is a 400 (as vLLM answers), never a silent cut.
 */
export function samplingParams(
  ctx: RouteContext,
  body: SamplingFields,
  promptTokens: number,
  promptParam: string,
  defaultMaxTokens?: number,
): SamplingParams {
  if (body.n !== undefined && body.n !== null && body.n !== 1) {
    throw apiError("invalid_field", {
      param: "n",
      detail: "this llama.cpp server generates one choice per request (n: 1)",
    });
  }
  if (body.ignore_eos !== undefined && typeof body.ignore_eos !== "boolean") {
    throw apiError("invalid_field", { param: "ignore_eos", detail: "expected a boolean" });
  }
  if (body.top_k != null && !(Number.isInteger(body.top_k) && (body.top_k as number) >= -1)) {
    throw apiError("invalid_field", { param: "top_k", detail: "expected an integer, -1 or 0 for every token" });
  }
  const window = ctx.engine.contextSize;
  if (promptTokens >= window) {
    throw apiError("invalid_field", {
      param: promptParam,
      detail: `the prompt is ${promptTokens} tokens and this server's context window is ${window}`,
    });
  }
  const left = window - promptTokens;
  const asked = body.max_completion_tokens ?? body.max_tokens ?? undefined;
  const param = body.max_completion_tokens != null ? "max_completion_tokens" : "max_tokens";
  if (asked !== undefined && asked > left) {
    throw apiError("invalid_field", {
      param,
      detail: `${asked} tokens asked with a prompt of ${promptTokens}: the context window is ${window}, so at most ${left}`,
    });
  }
  const stop = body.stop == null ? [] : typeof body.stop === "string" ? [body.stop] : body.stop;
  return {
    maxTokens: asked ?? Math.min(left, defaultMaxTokens ?? left),
    temperature: body.temperature ?? 1,
    topP: body.top_p ?? 1,
    topK: Math.max(0, (body.top_k as number | null | undefined) ?? 0),
    // Without a seed every request samples differently (node-llama-cpp's default would repeat within a second).
    seed: body.seed == null ? randomInt(2 ** 32) : body.seed >>> 0,
    stop: stop.filter((s) => s.length > 0),
    ignoreEos: body.ignore_eos === true,
  };
}

export interface UsageCounts {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export function usage(promptTokens: number, completionTokens: number): UsageCounts {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
}
