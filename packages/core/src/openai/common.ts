import { z } from "zod";
import { FALLBACK_GUARD } from "../validation";

/**
 * OpenAI-compatible shapes. Objects are loose: known fields are type-checked, unknown ones
 * (vLLM's `top_k`, `guided_json`, `chat_template_kwargs`, ...) pass through untouched.
 */

/**
 * A union of known `type`-tagged objects that also accepts objects of other types unchanged,
 * so a model server's newer part or tool kinds are not rejected by the gateway.
 */
export function openTypedUnion<const T extends readonly [z.ZodObject, ...z.ZodObject[]]>(
  known: T,
  knownTypes: readonly string[],
) {
  const other = z.looseObject({ type: z.string() }).superRefine((value, ctx) => {
    if (knownTypes.includes(value.type)) {
      ctx.addIssue({
        code: "custom",
        message: "known type",
        path: ["type"],
        params: { [FALLBACK_GUARD]: true },
        continue: false, // aborts the branch, so a union reports the known type's own issues
      });
    }
  });
  return z.union([z.discriminatedUnion("type", known as unknown as [z.ZodObject, ...z.ZodObject[]]), other]);
}

export const NonNegativeInt = z.int().nonnegative();
export const PositiveInt = z.int().positive();

export const StopSchema = z.union([z.string(), z.array(z.string()).max(64)]).nullish();

export const StreamOptionsSchema = z
  .looseObject({
    include_usage: z.boolean().nullish(),
    continuous_usage_stats: z.boolean().nullish(),
  })
  .nullish();

export const UsageSchema = z.looseObject({
  prompt_tokens: NonNegativeInt,
  completion_tokens: NonNegativeInt.optional(),
  total_tokens: NonNegativeInt,
  prompt_tokens_details: z.looseObject({ cached_tokens: NonNegativeInt.nullish() }).nullish(),
  completion_tokens_details: z.looseObject({ reasoning_tokens: NonNegativeInt.nullish() }).nullish(),
});
export type Usage = z.infer<typeof UsageSchema>;

/** The model id every inference request names. */
export const ModelIdSchema = z.string().min(1, "must not be empty").max(256);
