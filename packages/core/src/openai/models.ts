import { z } from "zod";
import { CapabilitySchema } from "../capabilities";
import { ModelStatusSchema, ReplicaCountsSchema } from "../status";

/** An entry of `GET /v1/models`: OpenAI's model object plus what our users need to know. */
export const ModelObjectSchema = z.looseObject({
  id: z.string(),
  object: z.literal("model"),
  created: z.int(),
  owned_by: z.string(),
  status: ModelStatusSchema,
  capabilities: z.array(CapabilitySchema),
  cluster: z.string(),
  framework: z.string(),
  /** Context window in tokens, named as vLLM names it. */
  max_model_len: z.int().positive().nullable(),
  aliases: z.array(z.string()),
  placement: z.enum(["hot", "dynamic"]),
  /** What serves it: `vllm`, `infinity`, ... or `simulator` (a stand-in with no real model). */
  engine: z.string(),
  /** Position in the cluster's start queue when status is `queued`. */
  queue_position: z.int().positive().nullable(),
  /**
   * Seconds until the model is expected to be live, when queued (the wait for its GPUs plus its
   * load time) or starting; null when queued and the wait cannot be known (docs/scheduler.md).
   */
  eta_seconds: z.number().nonnegative().nullable(),
  /** Why the model is not available (maintenance, last failure), when it is not. */
  status_reason: z.string().nullable(),
  /** Its replicas by state now, and how many it may have (`min`, `max`). */
  replicas: ReplicaCountsSchema,
});
export type ModelObject = z.infer<typeof ModelObjectSchema>;

export const ModelListSchema = z.looseObject({
  object: z.literal("list"),
  data: z.array(ModelObjectSchema),
});
export type ModelList = z.infer<typeof ModelListSchema>;
