import { ChatCompletionRequestSchema, parseOrThrow } from "@switchyard/core";
import { z } from "zod";
import { sendJson } from "../http";
import { checkTokenIds, type RouteContext } from "../requests";
import { chatHistory } from "./chat";

/**
 * llama-server's tokenizer routes, so a client (or a test) can count tokens with the model's
 * own tokenizer: `/tokenize`, `/detokenize`, and `/apply-template` (the chat template's prompt).
 */

const TokenizeSchema = z.looseObject({
  content: z.string(),
  /** Parse special tokens (`<|im_start|>`) in the text as such; llama-server's `add_special`. */
  add_special: z.boolean().optional(),
});

const DetokenizeSchema = z.looseObject({ tokens: z.array(z.int().nonnegative()) });

const ApplyTemplateSchema = z.looseObject({ messages: ChatCompletionRequestSchema.shape.messages });

export async function tokenize(ctx: RouteContext, raw: unknown): Promise<void> {
  const request = parseOrThrow(TokenizeSchema, raw);
  sendJson(ctx.res, 200, { tokens: ctx.engine.tokenize(request.content, request.add_special === true) });
}

export async function detokenize(ctx: RouteContext, raw: unknown): Promise<void> {
  const request = parseOrThrow(DetokenizeSchema, raw);
  checkTokenIds(ctx, request.tokens, "tokens");
  sendJson(ctx.res, 200, { content: ctx.engine.detokenize(request.tokens, true) });
}

/** The rendered prompt, and (beyond llama-server) its token count: what a chat request's `prompt_tokens` is. */
export async function applyTemplate(ctx: RouteContext, raw: unknown): Promise<void> {
  const request = parseOrThrow(ApplyTemplateSchema, raw);
  const prompt = ctx.engine.chatPrompt(chatHistory(ctx, request.messages));
  sendJson(ctx.res, 200, { prompt: ctx.engine.detokenize(prompt.tokens, true), tokens: prompt.tokens.length });
}
