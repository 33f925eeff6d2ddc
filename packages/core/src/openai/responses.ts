import { z } from "zod";
import { ModelIdSchema, NonNegativeInt, openTypedUnion, PositiveInt } from "./common";

/**
 * OpenAI's Responses API (`POST /v1/responses`). Like the other request shapes these are loose:
 * known fields are checked, everything else (newer item kinds, built-in tools) passes through.
 */

// ---- input ---------------------------------------------------------------------------

export const ResponseInputTextSchema = z.looseObject({ type: z.literal("input_text"), text: z.string() });

export const ResponseInputImageSchema = z.looseObject({
  type: z.literal("input_image"),
  image_url: z.string().min(1).nullish(),
  file_id: z.string().nullish(),
  detail: z.enum(["auto", "low", "high"]).optional(),
});

export const ResponseOutputTextSchema = z.looseObject({ type: z.literal("output_text"), text: z.string() });

/** A content part of an input message; unknown part types (`input_file`, `input_audio`, ...) pass through. */
export const ResponseContentPartSchema = openTypedUnion(
  [ResponseInputTextSchema, ResponseInputImageSchema, ResponseOutputTextSchema],
  ["input_text", "input_image", "output_text"],
);
export type ResponseContentPart = z.infer<typeof ResponseContentPartSchema>;

/** A message in `input`; `type: "message"` may be left out, as OpenAI's "easy input message" does. */
export const ResponseInputMessageSchema = z.looseObject({
  type: z.literal("message").optional(),
  role: z.enum(["user", "assistant", "system", "developer"]),
  content: z.union([z.string(), z.array(ResponseContentPartSchema).min(1, "must not be empty")]),
});
export type ResponseInputMessage = z.infer<typeof ResponseInputMessageSchema>;

export const ResponseFunctionCallItemSchema = z.looseObject({
  type: z.literal("function_call"),
  call_id: z.string(),
  name: z.string(),
  arguments: z.string(),
});

export const ResponseFunctionCallOutputItemSchema = z.looseObject({
  type: z.literal("function_call_output"),
  call_id: z.string(),
  output: z.union([z.string(), z.array(z.unknown())]),
});

/** An item of `input`: a message, or another typed item (function calls, their outputs, reasoning, ...). */
export const ResponseInputItemSchema = z.union([
  ResponseInputMessageSchema,
  openTypedUnion(
    [ResponseFunctionCallItemSchema, ResponseFunctionCallOutputItemSchema],
    ["message", "function_call", "function_call_output"],
  ),
]);
export type ResponseInputItem = z.infer<typeof ResponseInputItemSchema>;

// ---- request -------------------------------------------------------------------------

export const ResponseFunctionToolSchema = z.looseObject({
  type: z.literal("function"),
  name: z.string().min(1).max(64),
  description: z.string().nullish(),
  parameters: z.record(z.string(), z.unknown()).nullish(),
  strict: z.boolean().nullish(),
});

export const ResponsesRequestSchema = z.looseObject({
  model: ModelIdSchema,
  input: z.union([z.string(), z.array(ResponseInputItemSchema).min(1, "must not be empty")]),
  instructions: z.string().nullish(),
  max_output_tokens: PositiveInt.nullish(),
  stream: z.boolean().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  /** Function tools are checked; built-in tools (`web_search`, ...) pass through. */
  tools: z.array(openTypedUnion([ResponseFunctionToolSchema], ["function"])).nullish(),
  tool_choice: z
    .union([z.enum(["none", "auto", "required"]), z.looseObject({ type: z.string(), name: z.string().optional() })])
    .nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  previous_response_id: z.string().nullish(),
  store: z.boolean().nullish(),
  background: z.boolean().nullish(),
  include: z.array(z.string()).nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
  reasoning: z.looseObject({ effort: z.string().nullish(), summary: z.string().nullish() }).nullish(),
  text: z.looseObject({ format: z.looseObject({ type: z.string() }).optional() }).nullish(),
  truncation: z.enum(["auto", "disabled"]).nullish(),
  user: z.string().nullish(),
});
export type ResponsesRequest = z.infer<typeof ResponsesRequestSchema>;

// ---- response ------------------------------------------------------------------------

export const ResponseOutputMessageSchema = z.looseObject({
  type: z.literal("message"),
  id: z.string(),
  status: z.enum(["in_progress", "completed", "incomplete"]),
  role: z.literal("assistant"),
  content: z.array(
    openTypedUnion(
      [
        z.looseObject({ type: z.literal("output_text"), text: z.string() }),
        z.looseObject({ type: z.literal("refusal"), refusal: z.string() }),
      ],
      ["output_text", "refusal"],
    ),
  ),
});

export const ResponsesUsageSchema = z.looseObject({
  input_tokens: NonNegativeInt,
  output_tokens: NonNegativeInt,
  total_tokens: NonNegativeInt,
  input_tokens_details: z.looseObject({ cached_tokens: NonNegativeInt.nullish() }).nullish(),
  output_tokens_details: z.looseObject({ reasoning_tokens: NonNegativeInt.nullish() }).nullish(),
});

export const ResponseObjectSchema = z.looseObject({
  id: z.string(),
  object: z.literal("response"),
  created_at: z.number(),
  status: z.enum(["completed", "failed", "in_progress", "cancelled", "queued", "incomplete"]),
  model: z.string(),
  output: z.array(openTypedUnion([ResponseOutputMessageSchema], ["message"])),
  output_text: z.string().nullish(),
  incomplete_details: z.looseObject({ reason: z.string() }).nullish(),
  error: z.looseObject({ code: z.string(), message: z.string() }).nullish(),
  usage: ResponsesUsageSchema.nullish(),
});
export type ResponseObject = z.infer<typeof ResponseObjectSchema>;

/** One server-sent event of a streamed response (`response.created`, `response.output_text.delta`, ...). */
export const ResponseStreamEventSchema = z.looseObject({
  type: z.string(),
  sequence_number: NonNegativeInt,
});
export type ResponseStreamEvent = z.infer<typeof ResponseStreamEventSchema>;
