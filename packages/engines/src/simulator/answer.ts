import { randomBytes } from "node:crypto";
import { type Capability, parseOrThrow, SwitchyardError } from "@switchyard/core";
import type { z } from "zod";
import { badRequest, SimulatorHttpError } from "./errors";
import type { SimulatorOptions } from "./options";

/**
 * An answer ready to be sent: as one JSON body, or as a stream sent step by step (one token
 * per choice per step) at the simulator's pace. Route handlers build these; the server paces them.
 */
export interface Answer {
  stream: boolean;
  promptTokens: number;
  /** Tokens of the whole answer, once sent. */
  completionTokens: number;
  /** Number of token steps: the longest choice's token count (0 for embeddings). */
  steps: number;
  /** The non-streamed JSON body. */
  body(): string;
  /** Stream text sent as soon as generation starts. */
  head(): string;
  /** Stream text of step `k`; `tokens` is how many completion tokens it carries. */
  step(k: number): { text: string; tokens: number };
  /** Stream text after the last step (finish reasons, usage, end marker). */
  tail(): string;
}

/** What route handlers need from the running simulator. */
export interface SimulatorContext {
  options: SimulatorOptions;
  capabilities: ReadonlySet<Capability>;
  newId(prefix: string): string;
}

export const SYSTEM_FINGERPRINT = "switchyard-simulator";

/** Unique ids without a random draw per request: a per-process prefix and a counter. */
export function idSource(): (prefix: string) => string {
  const run = randomBytes(6).toString("hex");
  let counter = 0;
  return (prefix) => `${prefix}${run}${(counter++).toString(36).padStart(6, "0")}`;
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** Validate a body with one of core's schemas; failures become vLLM-style 400s naming the field. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  try {
    return parseOrThrow(schema, body);
  } catch (error) {
    if (error instanceof SwitchyardError) throw badRequest(error.message, error.param);
    throw error;
  }
}

export function checkModel(ctx: SimulatorContext, model: string): void {
  if (model !== ctx.options.model) {
    throw new SimulatorHttpError(404, `The model \`${model}\` does not exist.`, "model");
  }
}

/** Like vLLM when a model was started without the task an endpoint needs. */
export function requireCapability(ctx: SimulatorContext, capability: Capability, api: string): void {
  if (!ctx.capabilities.has(capability)) throw badRequest(`The model does not support ${api}`);
}

export function checkImages(ctx: SimulatorContext, images: number): void {
  if (images > 0 && !ctx.capabilities.has("vision")) {
    throw badRequest(
      `At most 0 image(s) may be provided in one prompt: ${ctx.options.model} is not a multimodal model (it has no vision capability).`,
    );
  }
}

/** vLLM's context-length errors: the prompt alone, or prompt plus max_tokens, over max_model_len. */
export function checkContext(ctx: SimulatorContext, promptTokens: number, maxTokens: number | undefined): void {
  const limit = ctx.options.maxModelLen;
  if (promptTokens > limit) {
    throw badRequest(
      `This model's maximum context length is ${limit} tokens. However, your request has ${promptTokens} input tokens. Please reduce the length of the input messages.`,
    );
  }
  if (maxTokens !== undefined && promptTokens + maxTokens > limit) {
    throw badRequest(
      `This model's maximum context length is ${limit} tokens. However, you requested ${promptTokens + maxTokens} tokens (${promptTokens} in the messages, ${maxTokens} in the completion). Please reduce the length of the messages or completion.`,
    );
  }
}

export function stopList(stop: string | readonly string[] | null | undefined): string[] {
  if (stop === null || stop === undefined) return [];
  return typeof stop === "string" ? [stop] : [...stop];
}

/** Server-sent events: `data:` lines, and with an event name for the Responses and Messages APIs. */
export const sse = {
  data: (json: string) => `data: ${json}\n\n`,
  event: (name: string, json: string) => `event: ${name}\ndata: ${json}\n\n`,
  done: "data: [DONE]\n\n",
};
