import { z } from "zod";
import { ModelIdSchema, NonNegativeInt, PositiveInt } from "./common";

export const EmbeddingInputSchema = z.union([
  z.string(),
  z.array(z.string()).min(1, "must not be empty").max(2048),
  z.array(NonNegativeInt).min(1, "must not be empty"),
  z.array(z.array(NonNegativeInt).min(1)).min(1, "must not be empty").max(2048),
]);

export const EmbeddingRequestSchema = z.looseObject({
  model: ModelIdSchema,
  input: EmbeddingInputSchema,
  encoding_format: z.enum(["float", "base64"]).nullish(),
  dimensions: PositiveInt.nullish(),
  user: z.string().nullish(),
});
export type EmbeddingRequest = z.infer<typeof EmbeddingRequestSchema>;

export const EmbeddingSchema = z.looseObject({
  object: z.literal("embedding"),
  index: NonNegativeInt,
  /** float: the vector; base64: little-endian float32 bytes, base64-encoded. */
  embedding: z.union([z.array(z.number()), z.string()]),
});

export const EmbeddingResponseSchema = z.looseObject({
  object: z.literal("list"),
  data: z.array(EmbeddingSchema),
  model: z.string(),
  usage: z.looseObject({ prompt_tokens: NonNegativeInt, total_tokens: NonNegativeInt }),
});
export type EmbeddingResponse = z.infer<typeof EmbeddingResponseSchema>;
