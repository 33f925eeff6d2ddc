import { z } from "zod";
import { ChatCompletionRequestSchema } from "./chat";
import { CompletionRequestSchema } from "./completions";
import { EmbeddingRequestSchema } from "./embeddings";
import { ResponsesRequestSchema } from "./responses";

/**
 * Files and batches: OpenAI's Files + Batches API, and the reference service's path-based
 * batch API. Both front doors run the same batches; the reference statuses are a view of
 * OpenAI's.
 */

/** The endpoints a batch line may call, and the request schema each line's body must pass. */
export const BATCH_ENDPOINTS = {
  "/v1/chat/completions": ChatCompletionRequestSchema,
  "/v1/completions": CompletionRequestSchema,
  "/v1/embeddings": EmbeddingRequestSchema,
  "/v1/responses": ResponsesRequestSchema,
} as const;
export type BatchEndpoint = keyof typeof BATCH_ENDPOINTS;
export const BatchEndpointSchema = z.enum(Object.keys(BATCH_ENDPOINTS) as [BatchEndpoint, ...BatchEndpoint[]]);

export const BATCH_STATUSES = [
  "validating",
  "failed",
  "in_progress",
  "finalizing",
  "completed",
  "expired",
  "cancelling",
  "cancelled",
] as const;
export const BatchStatusSchema = z.enum(BATCH_STATUSES);
export type BatchStatus = z.infer<typeof BatchStatusSchema>;

/** Statuses that still need the worker. */
export const ACTIVE_BATCH_STATUSES: readonly BatchStatus[] = ["validating", "in_progress", "finalizing", "cancelling"];

/** Statuses a batch never leaves: it ran to the end, was rejected, ran out of time, or was stopped. */
export const ENDED_BATCH_STATUSES: readonly BatchStatus[] = ["completed", "failed", "expired", "cancelled"];

/**
 * Which status changes a batch may make. The batch store writes every status through this
 * table and refuses any other move (that would be a bug in the worker or the service):
 * validation passes (`in_progress`) or fails; a run finalizes and completes, or is cancelled
 * (by the API, which marks it `cancelling`, or in the worker's own process before the row says
 * so), expires, or fails. An ended batch never moves again.
 */
export const BATCH_TRANSITIONS: Readonly<Record<BatchStatus, readonly BatchStatus[]>> = {
  validating: ["in_progress", "failed", "cancelling"],
  in_progress: ["finalizing", "cancelling", "cancelled", "expired", "failed"],
  finalizing: ["completed", "failed"],
  cancelling: ["cancelled", "expired", "failed"],
  completed: [],
  failed: [],
  expired: [],
  cancelled: [],
};

export function canTransitionBatch(from: BatchStatus, to: BatchStatus): boolean {
  return BATCH_TRANSITIONS[from].includes(to);
}

/** The statuses a batch may reach `to` from (`cancelling` from validating or in_progress). */
export function batchStatusesBefore(to: BatchStatus): BatchStatus[] {
  return BATCH_STATUSES.filter((from) => canTransitionBatch(from, to));
}

/** The reference service's statuses (plus `cancelled`, which it lacks). */
export const REFERENCE_BATCH_STATUSES = ["pending", "running", "completed", "failed", "cancelled"] as const;
export const ReferenceBatchStatusSchema = z.enum(REFERENCE_BATCH_STATUSES);
export type ReferenceBatchStatus = z.infer<typeof ReferenceBatchStatusSchema>;

/** How an OpenAI status reads in the reference API. */
export function referenceStatus(status: BatchStatus): ReferenceBatchStatus {
  switch (status) {
    case "validating":
      return "pending";
    case "in_progress":
    case "finalizing":
    case "cancelling":
      return "running";
    case "completed":
      return "completed";
    case "cancelled":
      return "cancelled";
    case "failed":
    case "expired":
      return "failed";
  }
}

/** The OpenAI statuses a reference status filter matches. */
export function statusesForReference(status: ReferenceBatchStatus): BatchStatus[] {
  return BATCH_STATUSES.filter((s) => referenceStatus(s) === status);
}

// ---- one line of a batch input file ---------------------------------------------------

export const BatchRequestLineSchema = z.looseObject({
  custom_id: z.string().min(1, "must not be empty").max(512),
  method: z.literal("POST", { error: 'must be "POST"' }),
  url: z.string(),
  body: z.record(z.string(), z.unknown()),
});
export type BatchRequestLine = z.infer<typeof BatchRequestLineSchema>;

/** One line of a results or errors file (OpenAI's batch output shape). */
export const BatchOutputLineSchema = z.object({
  id: z.string(),
  custom_id: z.string(),
  response: z
    .object({
      status_code: z.int(),
      request_id: z.string(),
      body: z.unknown(),
    })
    .nullable(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
});
export type BatchOutputLine = z.infer<typeof BatchOutputLineSchema>;

// ---- OpenAI Files ---------------------------------------------------------------------

export const FILE_PURPOSES = ["batch", "batch_output"] as const;
export const FilePurposeSchema = z.enum(FILE_PURPOSES);

export const FileObjectSchema = z.object({
  id: z.string(),
  object: z.literal("file"),
  bytes: z.int().nonnegative(),
  created_at: z.int(),
  expires_at: z.int().nullable(),
  filename: z.string(),
  purpose: FilePurposeSchema,
  status: z.literal("processed"),
  status_details: z.string().nullable(),
});
export type FileObject = z.infer<typeof FileObjectSchema>;

export const FileListSchema = z.object({
  object: z.literal("list"),
  data: z.array(FileObjectSchema),
  first_id: z.string().nullable(),
  last_id: z.string().nullable(),
  has_more: z.boolean(),
});
export type FileObjectList = z.infer<typeof FileListSchema>;

export const FileDeletedSchema = z.object({ id: z.string(), object: z.literal("file"), deleted: z.boolean() });
export type FileDeleted = z.infer<typeof FileDeletedSchema>;

// ---- OpenAI Batches -------------------------------------------------------------------

/** A project (allocation) as users name it: `project` on a batch, `--project` in `sy batch submit`. */
export const ProjectNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "use 1-64 letters, digits, '.', '_' or '-'");

/** What each project field means, on every body that names one. */
const PROJECT_DESCRIPTION =
  "The project (allocation) to charge, a Switchyard field; default: your only active one (400 `project_required` when you have several)";

export const CreateBatchRequestSchema = z.strictObject({
  input_file_id: z
    .string()
    .min(1)
    .describe(
      "The id of a JSONL file you uploaded with `POST /v1/files` (purpose `batch`); its first line names the model",
    ),
  endpoint: BatchEndpointSchema.describe("The endpoint every line calls; each line's `url` must be this one"),
  completion_window: z
    .string()
    .min(1)
    .describe(
      'How long the batch may run before it expires: one of the server\'s `batch.completionWindows` (default `"24h"`)',
    ),
  metadata: z
    .record(z.string().max(64), z.string().max(512))
    .refine((m) => Object.keys(m).length <= 16, "at most 16 key-value pairs")
    .nullish()
    .describe(
      "Labels of your own, returned on the batch: at most 16 pairs, keys up to 64 characters, values up to 512",
    ),
  project: ProjectNameSchema.optional().describe(PROJECT_DESCRIPTION),
});
export type CreateBatchRequest = z.infer<typeof CreateBatchRequestSchema>;

/**
 * `POST /v1/batches/precheck`: what creating a batch of this model would be refused for, asked
 * before its input is uploaded (`sy batch submit` does). The same checks as `POST /v1/batches`
 * with the model named here instead of read from the file.
 */
export const BatchPrecheckRequestSchema = z.strictObject({
  model: z.string().min(1).max(256).describe("The model the batch would call: its id or an alias"),
  endpoint: BatchEndpointSchema.optional().describe("The endpoint the batch's lines would call"),
  completion_window: z
    .string()
    .min(1)
    .optional()
    .describe("One of the server's `batch.completionWindows`; default: the first of them"),
  project: ProjectNameSchema.optional().describe(PROJECT_DESCRIPTION),
});
export type BatchPrecheckRequest = z.infer<typeof BatchPrecheckRequestSchema>;

/** The precheck's 200: the batch would be created, for this model (the id an alias names). */
export const BatchPrecheckSchema = z.object({
  object: z.literal("batch.precheck"),
  model: z.string(),
  completion_window: z.string(),
});
export type BatchPrecheck = z.infer<typeof BatchPrecheckSchema>;

export const BatchErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  param: z.string().nullable(),
  line: z.int().nullable(),
});
export type BatchError = z.infer<typeof BatchErrorSchema>;

export const RequestCountsSchema = z.object({
  total: z.int().nonnegative(),
  completed: z.int().nonnegative(),
  failed: z.int().nonnegative(),
});

export const BatchObjectSchema = z.object({
  id: z.string(),
  object: z.literal("batch"),
  endpoint: z.string(),
  /** The model every line calls (OpenAI added this field in 2025). */
  model: z.string(),
  errors: z.object({ object: z.literal("list"), data: z.array(BatchErrorSchema) }).nullable(),
  input_file_id: z.string().nullable(),
  completion_window: z.string(),
  status: BatchStatusSchema,
  output_file_id: z.string().nullable(),
  error_file_id: z.string().nullable(),
  created_at: z.int(),
  in_progress_at: z.int().nullable(),
  expires_at: z.int().nullable(),
  finalizing_at: z.int().nullable(),
  completed_at: z.int().nullable(),
  failed_at: z.int().nullable(),
  expired_at: z.int().nullable(),
  cancelling_at: z.int().nullable(),
  cancelled_at: z.int().nullable(),
  request_counts: RequestCountsSchema,
  usage: z.object({
    input_tokens: z.int().nonnegative(),
    output_tokens: z.int().nonnegative(),
    total_tokens: z.int().nonnegative(),
  }),
  metadata: z.record(z.string(), z.string()).nullable(),
});
export type BatchObject = z.infer<typeof BatchObjectSchema>;

export const BatchListSchema = z.object({
  object: z.literal("list"),
  data: z.array(BatchObjectSchema),
  first_id: z.string().nullable(),
  last_id: z.string().nullable(),
  has_more: z.boolean(),
});
export type BatchList = z.infer<typeof BatchListSchema>;

export const ListQuerySchema = z.object({
  after: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});

/** `GET /v1/allocation`: which project a batch would be charged to (`project` named or not, for `model`). */
export const AllocationQuerySchema = z.object({
  project: ProjectNameSchema.optional(),
  model: z.string().min(1).max(256).optional(),
});

/** The project a batch of yours would be charged to now, with what is left of it. */
export const AllocationSchema = z.object({
  object: z.literal("allocation"),
  project: z.string(),
  description: z.string().nullable(),
  /** Prompt + completion tokens in all; null: unlimited. */
  token_budget: z.number().nullable(),
  spent: z.number(),
  /** null: unlimited. */
  remaining: z.number().nullable(),
  valid_until: z.string().nullable(),
});
export type Allocation = z.infer<typeof AllocationSchema>;

/** `GET /v1/files`: OpenAI's default page is 10,000 files. */
export const FileListQuerySchema = z.object({
  after: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(10_000),
  purpose: FilePurposeSchema.optional(),
});

// ---- the reference service's batch API ------------------------------------------------

export const ReferenceCreateBatchSchema = z.strictObject({
  model: z
    .string()
    .min(1)
    .max(256)
    .describe("The model the batch calls: its id or an alias; a line without `body.model` takes it"),
  input_file: z
    .string()
    .min(1)
    .describe(
      "Absolute path of the JSONL file on shared storage, inside the cluster's allowed directories or a world-readable root; no `..`, no symlinks below them",
    ),
  output_folder_path: z
    .string()
    .min(1)
    .optional()
    .describe(
      "Absolute folder inside the allowed directories where the batch's results folder is made; default: beside the input (`world` mode: your own folder); required for an input under a world-readable root",
    ),
  project: ProjectNameSchema.optional().describe(PROJECT_DESCRIPTION),
});

/** `GET /resource_server[/{cluster}/{framework}]/v1/batches`: an empty `status` lists every batch, as none does. */
export const ReferenceBatchListQuerySchema = z.object({
  status: z
    .enum([...REFERENCE_BATCH_STATUSES, ""])
    .optional()
    .describe("Only the batches in this status; empty or absent: all of them"),
});
export type ReferenceCreateBatch = z.infer<typeof ReferenceCreateBatchSchema>;

export const ReferenceBatchSchema = z.object({
  batch_id: z.string(),
  cluster: z.string(),
  created_at: z.string(),
  framework: z.string(),
  input_file: z.string(),
  status: ReferenceBatchStatusSchema,
});
export type ReferenceBatch = z.infer<typeof ReferenceBatchSchema>;

/** One batch in detail: the list entry plus where its output goes and how far it got. */
export const ReferenceBatchDetailSchema = ReferenceBatchSchema.extend({
  model: z.string(),
  output_folder_path: z.string(),
  /** OpenAI's finer status (`validating`, `in_progress`, `cancelling`, ...). */
  detailed_status: BatchStatusSchema,
  request_counts: RequestCountsSchema,
  results_file: z.string().nullable(),
  progress_file: z.string().nullable(),
  errors_file: z.string().nullable(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  /** Why it failed (validation errors with line numbers, or the reason it stopped). */
  errors: z.array(BatchErrorSchema),
});
export type ReferenceBatchDetail = z.infer<typeof ReferenceBatchDetailSchema>;

export const ReferenceBatchResultSchema = z.object({
  results_file: z.string(),
  progress_file: z.string(),
  /** Not in the reference; where failed lines went (empty when none failed). */
  errors_file: z.string(),
  metrics: z.object({
    /** Seconds from the first request to the last answer. */
    response_time: z.number().nonnegative(),
    throughput_tokens_per_second: z.number().nonnegative(),
    total_tokens: z.int().nonnegative(),
    num_responses: z.int().nonnegative(),
    lines_processed: z.int().nonnegative(),
  }),
});
export type ReferenceBatchResult = z.infer<typeof ReferenceBatchResultSchema>;

/** `progress.json`: rewritten atomically as a batch runs. */
export const BatchProgressSchema = z.object({
  batch_id: z.string(),
  status: BatchStatusSchema,
  model: z.string(),
  total: z.int().nonnegative(),
  completed: z.int().nonnegative(),
  failed: z.int().nonnegative(),
  lines_processed: z.int().nonnegative(),
  /** Lines per second over the last minute. */
  rate_per_second: z.number().nonnegative(),
  eta_seconds: z.number().nonnegative().nullable(),
  /** What the batch waits for, when it waits (a model starting, say). */
  waiting_for: z.string().nullable(),
  started_at: z.string().nullable(),
  updated_at: z.string(),
});
export type BatchProgress = z.infer<typeof BatchProgressSchema>;
