import { z } from "zod";
import { ModelIdSchema, NonNegativeInt, PositiveInt, StopSchema, StreamOptionsSchema, UsageSchema } from "./common";

/** A prompt: text, texts, token ids, or lists of token ids (as in OpenAI's API). */
export const PromptSchema = z.union([
  z.string(),
  z.array(z.string()).min(1, "must not be empty"),
  z.array(NonNegativeInt).min(1, "must not be empty"),
  z.array(z.array(NonNegativeInt).min(1)).min(1, "must not be empty"),
]);

export const CompletionRequestSchema = z.looseObject({
  model: ModelIdSchema,
  prompt: PromptSchema,
  best_of: PositiveInt.nullish(),
  echo: z.boolean().nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  logit_bias: z.record(z.string(), z.number()).nullish(),
  logprobs: z.int().min(0).max(20).nullish(),
  max_tokens: NonNegativeInt.nullish(),
  n: PositiveInt.nullish(),
  seed: z.int().nullish(),
  stop: StopSchema,
  stream: z.boolean().nullish(),
  stream_options: StreamOptionsSchema,
  suffix: z.string().nullish(),
  temperature: z.number().min(0).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  user: z.string().nullish(),
});
export type CompletionRequest = z.infer<typeof CompletionRequestSchema>;

const CompletionChoiceSchema = z.looseObject({
  index: NonNegativeInt,
  text: z.string(),
  finish_reason: z.enum(["stop", "length", "content_filter", "abort"]).nullable(),
  logprobs: z.unknown().nullish(),
});

export const CompletionSchema = z.looseObject({
  id: z.string(),
  object: z.literal("text_completion"),
  created: z.int(),
  model: z.string(),
  choices: z.array(CompletionChoiceSchema),
  usage: UsageSchema.nullish(),
  system_fingerprint: z.string().nullish(),
});
export type Completion = z.infer<typeof CompletionSchema>;
