/**
 * The token counts of a model server's answer, read by the same rules wherever they are read:
 * from the `usage` object. The gateway scans for its keys rather than parsing the whole body
 * (answers can be large; only two numbers are needed); the batch worker, which parses every
 * answer anyway to check it, reads them off the parsed object (`usageFromObject`).
 */

/** Tokens of one request: the prompt, and what was generated. */
export interface TokenUsage {
  prompt: number;
  completion: number;
}

/**
 * How an API names its counts: Chat Completions, Completions and Embeddings say
 * `prompt_tokens`/`completion_tokens`; the Responses API and Anthropic's Messages say
 * `input_tokens`/`output_tokens`.
 */
export type UsageNames = "prompt" | "input";

/** The names the API at `path` (`/v1/responses`, `/v1/chat/completions`, ...) uses. */
export function usageNamesOf(path: string): UsageNames {
  return path.endsWith("/responses") || path.endsWith("/messages") ? "input" : "prompt";
}

/** The whole number after `"key":` at or past `from`, if there is one. */
export function numberAfter(text: string, key: string, from: number): number | undefined {
  const at = text.indexOf(`"${key}"`, from);
  if (at < 0) return undefined;
  const match = /^\s*:\s*(\d+)/.exec(text.slice(at + key.length + 2, at + key.length + 40));
  return match ? Number(match[1]) : undefined;
}

/**
 * The counts in a complete JSON answer (or one event of a stream); undefined when it reports
 * none: no `usage`, no prompt count (`prompt` names), or neither count (`input` names).
 */
export function usageFromJson(text: string, names: UsageNames): TokenUsage | undefined {
  const at = text.lastIndexOf('"usage"');
  if (at < 0) return undefined;
  if (names === "input") {
    const prompt = numberAfter(text, "input_tokens", at);
    const completion = numberAfter(text, "output_tokens", at);
    return prompt === undefined && completion === undefined
      ? undefined
      : { prompt: prompt ?? 0, completion: completion ?? 0 };
  }
  const prompt = numberAfter(text, "prompt_tokens", at);
  if (prompt === undefined) return undefined;
  return { prompt, completion: numberAfter(text, "completion_tokens", at) ?? 0 };
}

const USAGE_KEY = Buffer.from('"usage"');

/** `usageFromJson` on raw bytes: only the tail from the `usage` key on is decoded. */
export function usageFromBuffer(body: Buffer, names: UsageNames): TokenUsage | undefined {
  const at = body.lastIndexOf(USAGE_KEY);
  if (at < 0) return undefined;
  return usageFromJson(body.toString("latin1", at, Math.min(body.length, at + 400)), names);
}

/** A whole number of tokens, or undefined for anything else. */
function count(value: unknown): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 ? value : undefined;
}

/** `usageFromJson`'s counts from an answer already parsed. */
export function usageFromObject(body: unknown, names: UsageNames): TokenUsage | undefined {
  const usage = (body as { usage?: unknown } | null)?.usage;
  if (typeof usage !== "object" || usage === null) return undefined;
  const fields = usage as Record<string, unknown>;
  if (names === "input") {
    const prompt = count(fields.input_tokens);
    const completion = count(fields.output_tokens);
    return prompt === undefined && completion === undefined
      ? undefined
      : { prompt: prompt ?? 0, completion: completion ?? 0 };
  }
  const prompt = count(fields.prompt_tokens);
  if (prompt === undefined) return undefined;
  return { prompt, completion: count(fields.completion_tokens) ?? 0 };
}
