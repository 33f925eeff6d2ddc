import { z } from "zod";
import { ModelIdSchema, NonNegativeInt, openTypedUnion, PositiveInt } from "./common";

/**
 * Anthropic's Messages API (`POST /v1/messages`), which vLLM and our gateway also serve so that
 * Anthropic-style clients work. Loose like the OpenAI shapes: unknown fields and block kinds pass.
 */

// ---- content blocks ------------------------------------------------------------------

export const MessagesTextBlockSchema = z.looseObject({ type: z.literal("text"), text: z.string() });

export const MessagesImageBlockSchema = z.looseObject({
  type: z.literal("image"),
  source: openTypedUnion(
    [
      z.looseObject({ type: z.literal("base64"), media_type: z.string(), data: z.string() }),
      z.looseObject({ type: z.literal("url"), url: z.string().min(1) }),
    ],
    ["base64", "url"],
  ),
});

export const MessagesToolUseBlockSchema = z.looseObject({
  type: z.literal("tool_use"),
  id: z.string(),
  name: z.string(),
  input: z.record(z.string(), z.unknown()),
});

export const MessagesToolResultBlockSchema = z.looseObject({
  type: z.literal("tool_result"),
  tool_use_id: z.string(),
  content: z.union([z.string(), z.array(z.looseObject({ type: z.string() }))]).optional(),
  is_error: z.boolean().optional(),
});

/** A content block; unknown kinds (`document`, `thinking`, ...) pass through. */
export const MessagesContentBlockSchema = openTypedUnion(
  [MessagesTextBlockSchema, MessagesImageBlockSchema, MessagesToolUseBlockSchema, MessagesToolResultBlockSchema],
  ["text", "image", "tool_use", "tool_result"],
);
export type MessagesContentBlock = z.infer<typeof MessagesContentBlockSchema>;

export const MessagesMessageSchema = z.looseObject({
  role: z.enum(["user", "assistant"]),
  content: z.union([z.string(), z.array(MessagesContentBlockSchema).min(1, "must not be empty")]),
});
export type MessagesMessage = z.infer<typeof MessagesMessageSchema>;

// ---- request -------------------------------------------------------------------------

export const MessagesToolSchema = z.looseObject({
  name: z.string().min(1).max(128),
  description: z.string().optional(),
  input_schema: z.record(z.string(), z.unknown()),
});

export const MessagesRequestSchema = z.looseObject({
  model: ModelIdSchema,
  /** Required by Anthropic's API, unlike OpenAI's `max_tokens`. */
  max_tokens: PositiveInt,
  messages: z.array(MessagesMessageSchema).min(1, "must contain at least one message"),
  system: z.union([z.string(), z.array(MessagesTextBlockSchema)]).optional(),
  stop_sequences: z.array(z.string()).nullish(),
  stream: z.boolean().nullish(),
  temperature: z.number().min(0).max(1).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  top_k: NonNegativeInt.nullish(),
  metadata: z.looseObject({ user_id: z.string().nullish() }).nullish(),
  tools: z.array(MessagesToolSchema).nullish(),
  tool_choice: z.looseObject({ type: z.enum(["auto", "any", "tool", "none"]), name: z.string().optional() }).nullish(),
  thinking: z.looseObject({ type: z.string(), budget_tokens: PositiveInt.optional() }).nullish(),
});
export type MessagesRequest = z.infer<typeof MessagesRequestSchema>;

// ---- response ------------------------------------------------------------------------

export const MessagesStopReasonSchema = z.enum([
  "end_turn",
  "max_tokens",
  "stop_sequence",
  "tool_use",
  "pause_turn",
  "refusal",
]);

export const MessagesResponseSchema = z.looseObject({
  id: z.string(),
  type: z.literal("message"),
  role: z.literal("assistant"),
  model: z.string(),
  content: z.array(MessagesContentBlockSchema),
  stop_reason: MessagesStopReasonSchema.nullable(),
  stop_sequence: z.string().nullish(),
  usage: z.looseObject({ input_tokens: NonNegativeInt, output_tokens: NonNegativeInt }),
});
export type MessagesResponse = z.infer<typeof MessagesResponseSchema>;

/** One server-sent event of a streamed message (`message_start`, `content_block_delta`, ...). */
export const MessagesStreamEventSchema = z.looseObject({ type: z.string() });
export type MessagesStreamEvent = z.infer<typeof MessagesStreamEventSchema>;
