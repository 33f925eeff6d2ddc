import { apiError, type GatewaySettings } from "@switchyard/core";
import type { ApiKind } from "./kinds";

type RequestCaps = Pick<GatewaySettings["limits"], "maxChoices" | "maxOutputTokens">;

const CHOICE_FIELDS = ["n", "best_of"] as const;
const OUTPUT_FIELDS = ["max_tokens", "max_completion_tokens", "max_output_tokens"] as const;

/** Prompt tokens as guessed before the model server counts them: about 4 bytes a token. */
export function promptEstimate(bodyBytes: number): number {
  return Math.ceil(bodyBytes / 4);
}

/**
 * The most tokens a request can make the model server use, charged against the token budgets
 * before it runs: the prompt, plus every choice (`n`, `best_of`) of every prompt times the
 * output it may generate (the largest of its `max_*tokens` fields; without one, the model's
 * context window, else `maxOutputTokens`). Fields over the per-request caps are a 400 naming
 * the field. Unknown fields reach the model server too, so the choice and output fields are
 * read on every API, not only where OpenAI defines them.
 */
export function tokenEstimate(
  kind: ApiKind,
  body: Record<string, unknown>,
  bodyBytes: number,
  contextLength: number | undefined,
  caps: RequestCaps,
): number {
  const prompt = promptEstimate(bodyBytes);
  if (kind === "embeddings") return prompt;
  let choices = 1;
  for (const field of CHOICE_FIELDS) {
    const value = body[field];
    if (typeof value !== "number") continue;
    if (value > caps.maxChoices) throw overCap(field, caps.maxChoices, "choices");
    if (value > choices) choices = value;
  }
  let output = 0;
  for (const field of OUTPUT_FIELDS) {
    const value = body[field];
    if (typeof value !== "number") continue;
    if (value > caps.maxOutputTokens) throw overCap(field, caps.maxOutputTokens, "tokens");
    if (value > output) output = value;
  }
  // Without a usable bound the server may generate until the context is full.
  if (!(output > 0)) output = contextLength ?? caps.maxOutputTokens;
  else if (contextLength !== undefined && output > contextLength) output = contextLength;
  // A list of prompts (completions) is answered once per prompt.
  const prompts = kind === "completions" && Array.isArray(body.prompt) && typeof body.prompt[0] !== "number";
  return prompt + (prompts ? (body.prompt as unknown[]).length : 1) * choices * output;
}

function overCap(field: string, cap: number, unit: string) {
  return apiError("invalid_field", { param: field, detail: `at most ${cap} ${unit} per request on this service` });
}
