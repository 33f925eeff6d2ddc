import { z } from "zod";
import {
  ModelIdSchema,
  NonNegativeInt,
  openTypedUnion,
  PositiveInt,
  StopSchema,
  StreamOptionsSchema,
  UsageSchema,
} from "./common";

// ---- content parts -------------------------------------------------------------------

export const TextPartSchema = z.looseObject({ type: z.literal("text"), text: z.string() });

export const ImageUrlPartSchema = z.looseObject({
  type: z.literal("image_url"),
  image_url: z.looseObject({
    url: z.string().min(1, "must be an http(s) URL or a data: URL"),
    detail: z.enum(["auto", "low", "high"]).optional(),
  }),
});

export const InputAudioPartSchema = z.looseObject({
  type: z.literal("input_audio"),
  input_audio: z.looseObject({ data: z.string(), format: z.string() }),
});

export const FilePartSchema = z.looseObject({
  type: z.literal("file"),
  file: z.looseObject({
    file_data: z.string().optional(),
    file_id: z.string().optional(),
    filename: z.string().optional(),
  }),
});

export const RefusalPartSchema = z.looseObject({ type: z.literal("refusal"), refusal: z.string() });

const KNOWN_PART_TYPES = ["text", "image_url", "input_audio", "file", "refusal"] as const;

/** A user content part; unknown part types (vLLM's `video_url`, ...) pass through. */
export const ContentPartSchema = openTypedUnion(
  [TextPartSchema, ImageUrlPartSchema, InputAudioPartSchema, FilePartSchema, RefusalPartSchema],
  KNOWN_PART_TYPES,
);
export type ContentPart = z.infer<typeof ContentPartSchema>;

const TextContent = z.union([z.string(), z.array(TextPartSchema)]);
const UserContent = z.union([z.string(), z.array(ContentPartSchema).min(1, "must not be empty")]);

// ---- tools ---------------------------------------------------------------------------

export const FunctionDefinitionSchema = z.looseObject({
  name: z.string().min(1).max(64),
  description: z.string().optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
  strict: z.boolean().nullish(),
});

export const ToolSchema = z.looseObject({ type: z.literal("function"), function: FunctionDefinitionSchema });
export type Tool = z.infer<typeof ToolSchema>;

export const ToolChoiceSchema = z.union([
  z.enum(["none", "auto", "required"]),
  z.looseObject({ type: z.literal("function"), function: z.looseObject({ name: z.string() }) }),
]);

export const ToolCallSchema = z.looseObject({
  id: z.string(),
  type: z.literal("function"),
  function: z.looseObject({ name: z.string(), arguments: z.string() }),
});
export type ToolCall = z.infer<typeof ToolCallSchema>;

// ---- messages ------------------------------------------------------------------------

export const SystemMessageSchema = z.looseObject({
  role: z.literal("system"),
  content: TextContent,
  name: z.string().optional(),
});
export const DeveloperMessageSchema = z.looseObject({
  role: z.literal("developer"),
  content: TextContent,
  name: z.string().optional(),
});
export const UserMessageSchema = z.looseObject({
  role: z.literal("user"),
  content: UserContent,
  name: z.string().optional(),
});
export const AssistantMessageSchema = z.looseObject({
  role: z.literal("assistant"),
  content: z.union([z.string(), z.array(z.union([TextPartSchema, RefusalPartSchema]))]).nullish(),
  name: z.string().optional(),
  refusal: z.string().nullish(),
  tool_calls: z.array(ToolCallSchema).nullish(),
  reasoning_content: z.string().nullish(),
});
export const ToolMessageSchema = z.looseObject({
  role: z.literal("tool"),
  content: TextContent,
  tool_call_id: z.string(),
});
export const FunctionMessageSchema = z.looseObject({
  role: z.literal("function"),
  content: z.string().nullable(),
  name: z.string(),
});

export const ChatMessageSchema = z.discriminatedUnion("role", [
  SystemMessageSchema,
  DeveloperMessageSchema,
  UserMessageSchema,
  AssistantMessageSchema,
  ToolMessageSchema,
  FunctionMessageSchema,
]);
export type ChatMessage = z.infer<typeof ChatMessageSchema>;

// ---- request -------------------------------------------------------------------------

export const ResponseFormatSchema = openTypedUnion(
  [
    z.looseObject({ type: z.literal("text") }),
    z.looseObject({ type: z.literal("json_object") }),
    z.looseObject({
      type: z.literal("json_schema"),
      json_schema: z.looseObject({
        name: z.string(),
        description: z.string().optional(),
        schema: z.record(z.string(), z.unknown()).optional(),
        strict: z.boolean().nullish(),
      }),
    }),
  ],
  ["text", "json_object", "json_schema"],
);

export const ChatCompletionRequestSchema = z.looseObject({
  model: ModelIdSchema,
  messages: z.array(ChatMessageSchema).min(1, "must contain at least one message"),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  logit_bias: z.record(z.string(), z.number()).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.int().min(0).max(20).nullish(),
  max_tokens: NonNegativeInt.nullish(),
  max_completion_tokens: NonNegativeInt.nullish(),
  n: PositiveInt.nullish(),
  response_format: ResponseFormatSchema.optional(),
  seed: z.int().nullish(),
  stop: StopSchema,
  stream: z.boolean().nullish(),
  stream_options: StreamOptionsSchema,
  temperature: z.number().min(0).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  tools: z.array(ToolSchema).nullish(),
  tool_choice: ToolChoiceSchema.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  user: z.string().nullish(),
  reasoning_effort: z.string().nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
});
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequestSchema>;

// ---- response ------------------------------------------------------------------------

export const ChatCompletionMessageSchema = z.looseObject({
  role: z.literal("assistant"),
  content: z.string().nullable(),
  refusal: z.string().nullish(),
  tool_calls: z.array(ToolCallSchema).nullish(),
  reasoning_content: z.string().nullish(),
});

export const FinishReasonSchema = z.enum(["stop", "length", "tool_calls", "content_filter", "function_call", "abort"]);

export const ChatCompletionSchema = z.looseObject({
  id: z.string(),
  object: z.literal("chat.completion"),
  created: z.int(),
  model: z.string(),
  choices: z.array(
    z.looseObject({
      index: NonNegativeInt,
      message: ChatCompletionMessageSchema,
      finish_reason: FinishReasonSchema.nullable(),
      logprobs: z.unknown().nullish(),
    }),
  ),
  usage: UsageSchema.nullish(),
  system_fingerprint: z.string().nullish(),
});
export type ChatCompletion = z.infer<typeof ChatCompletionSchema>;

export const ChatCompletionChunkSchema = z.looseObject({
  id: z.string(),
  object: z.literal("chat.completion.chunk"),
  created: z.int(),
  model: z.string(),
  choices: z.array(
    z.looseObject({
      index: NonNegativeInt,
      delta: z.looseObject({
        role: z.literal("assistant").nullish(),
        content: z.string().nullish(),
        reasoning_content: z.string().nullish(),
        refusal: z.string().nullish(),
        tool_calls: z
          .array(
            z.looseObject({
              index: NonNegativeInt,
              id: z.string().nullish(),
              type: z.literal("function").nullish(),
              function: z.looseObject({ name: z.string().nullish(), arguments: z.string().nullish() }).nullish(),
            }),
          )
          .nullish(),
      }),
      finish_reason: FinishReasonSchema.nullable(),
      logprobs: z.unknown().nullish(),
    }),
  ),
  usage: UsageSchema.nullish(),
  system_fingerprint: z.string().nullish(),
});
export type ChatCompletionChunk = z.infer<typeof ChatCompletionChunkSchema>;
