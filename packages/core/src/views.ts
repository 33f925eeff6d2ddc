import { z } from "zod";
import { API_KEY_SCOPES, JobEntrySchema, type JobsView, JobsViewSchema } from "./control-plane";
import { ModelStatusSchema } from "./status";

/**
 * Response shapes of Switchyard's own (non-OpenAI) routes, as clients see them: who am I, API
 * keys, the jobs view, list-endpoints, and the OAuth token endpoints. The SDK types its calls
 * with these, and its tests parse the real server's answers with them, so they cannot drift.
 * Objects are loose: a newer server may add fields.
 */

const IsoDate = z.string();

/** `GET /v1/me`. */
export const MeSchema = z.looseObject({
  object: z.literal("user"),
  id: z.string(),
  username: z.string(),
  role: z.enum(["user", "admin"]),
  groups: z.array(z.string()),
  authenticated_via: z.enum(["access_token", "api_key", "oidc"]),
  scopes: z.array(z.string()),
  /** When the credential used for this call stops working (null: a key that never expires). */
  expires_at: IsoDate.nullable(),
  api_key_id: z.string().optional(),
  issuer: z.string().optional(),
});
export type Me = z.infer<typeof MeSchema>;

/** One entry of `GET /v1/keys`; the secret itself is only in the answer to `POST /v1/keys`. */
export const ApiKeyObjectSchema = z.looseObject({
  id: z.string(),
  object: z.literal("api_key"),
  name: z.string().nullable(),
  user: z.string(),
  prefix: z.string(),
  scopes: z.array(z.string()),
  created_at: IsoDate,
  expires_at: IsoDate.nullable(),
  revoked_at: IsoDate.nullable(),
  last_used_at: IsoDate.nullable(),
});
export type ApiKeyObject = z.infer<typeof ApiKeyObjectSchema>;

export const ApiKeyListSchema = z.looseObject({ object: z.literal("list"), data: z.array(ApiKeyObjectSchema) });
export type ApiKeyList = z.infer<typeof ApiKeyListSchema>;

/** `POST /v1/keys`: the key object plus the secret, shown this once. */
export const CreatedApiKeySchema = ApiKeyObjectSchema.extend({ key: z.string() });
export type CreatedApiKey = z.infer<typeof CreatedApiKeySchema>;

/**
 * The body of `POST /v1/keys`, for its documentation: the handler checks these fields itself
 * (naming the field in its 400) and ignores others.
 */
export const CreateApiKeyRequestSchema = z.looseObject({
  name: z.string().max(100).optional().describe("A label for the key, at most 100 characters"),
  expires_days: z
    .number()
    .int()
    .min(0)
    .max(3650)
    .nullable()
    .optional()
    .describe(
      "Days until the key expires, 0 to 3650; 0: never; omitted or null: the server's default (`auth.apiKeyDefaultExpiryDays`, 90)",
    ),
  scopes: z
    .array(z.enum(API_KEY_SCOPES))
    .default(["inference", "batch"])
    .describe("What the key may call; only scopes its creator holds (`admin` needs the admin role)"),
});
export type CreateApiKeyRequest = z.input<typeof CreateApiKeyRequestSchema>;

/** One deployment in the jobs view (`GET /resource_server/{cluster}/jobs`, `JobsViewSchema` in control-plane.ts). */
export type Job = JobsView["running"][number];

/**
 * `GET /resource_server/list-endpoints`. `models` is sorted as the reference gateway sorts it
 * (by code point) and `endpoints` lists the OpenAI paths under `{base_url}/{framework}` as it
 * does (`/v1/chat/completions`, ...); `endpoint_urls` maps each kind (`chat`, `embedding`, ...)
 * to its full path.
 */
export const EndpointListSchema = z.looseObject({
  clusters: z.record(
    z.string(),
    z.looseObject({
      base_url: z.string(),
      display_name: z.string(),
      status: z.string(),
      status_reason: z.string().nullable(),
      frameworks: z.record(
        z.string(),
        z.looseObject({
          models: z.array(z.string()),
          endpoints: z.array(z.string()),
          endpoint_urls: z.record(z.string(), z.string()),
        }),
      ),
    }),
  ),
});
export type EndpointList = z.infer<typeof EndpointListSchema>;

/** `GET /resource_server/status` (public): each cluster open to every signed-in user, true when it is up. */
export const ClusterStatusMapSchema = z.record(z.string(), z.boolean());
export type ClusterStatusMap = z.infer<typeof ClusterStatusMapSchema>;

/** `GET /resource_server/whoami`: the reference gateway's user object (`GET /v1/me` has more). */
export const WhoamiSchema = z.looseObject({
  id: z.string(),
  name: z.string(),
  username: z.string(),
  /** The caller's groups (names; the reference service has Globus group ids here). */
  user_group_uuids: z.array(z.string()),
  idp_id: z.string(),
  idp_name: z.string(),
  auth_service: z.string(),
  role: z.enum(["user", "admin"]),
});
export type Whoami = z.infer<typeof WhoamiSchema>;

/** What a model can do, as `GET /resource_server/{cluster}/models` reports it (schema version 1). */
export const ModelCapabilitiesSchema = z.looseObject({
  schema_version: z.literal(1),
  /** `chat_completions`, `completions`, `embeddings`, `responses`, `messages`, `batches`. */
  api_protocols: z.array(z.string()),
  context_window_tokens: z.int().nullable(),
  /** `text`, plus `image` for vision models. */
  input_modalities: z.array(z.string()),
  streaming: z.boolean(),
  reasoning: z.looseObject({ supported: z.boolean(), separate_output: z.boolean() }),
  tool_calling: z.looseObject({ supported: z.boolean() }),
});
export type ModelCapabilities = z.infer<typeof ModelCapabilitiesSchema>;

/** One entry of `GET /resource_server/{cluster}/models`. */
export const ModelDetailsSchema = z.looseObject({
  id: z.string(),
  object: z.literal("model"),
  cluster: z.string(),
  framework: z.string(),
  display_name: z.string(),
  /** Only when the operator wrote one. */
  description: z.string().optional(),
  capabilities: ModelCapabilitiesSchema,
  /** Tokens per minute for the model, all users together (absent: no limit). */
  rate_limit_token_per_minute: z.int().optional(),
  /** Tokens per minute for the caller (absent: no limit). */
  rate_limit_token_per_minute_per_user: z.int().optional(),
});
export type ModelDetails = z.infer<typeof ModelDetailsSchema>;
export const ModelDetailsListSchema = z.array(ModelDetailsSchema);

/** `GET /resource_server/{cluster}/models?model_id=`: one model's details instead of all. */
export const ModelDetailsQuerySchema = z.object({
  model_id: z
    .string()
    .min(1)
    .optional()
    .describe("A model id: answer with that model's details only (404 when you may not use it)"),
});

/**
 * The reference gateway's keys on each job of `GET /resource_server/{cluster}/jobs`, beside
 * Switchyard's own. `Models` is a comma-separated string (empty for a model the caller may not
 * use); `Host Name` is null except for admins acting as admins.
 */
export const ReferenceJobFieldsSchema = z.object({
  Models: z.string(),
  Framework: z.string(),
  Cluster: z.string(),
  "Job ID": z.string(),
  /** `R` (starting or live), `Q` (queued), `E` (draining), `F` (failed). */
  "Job State": z.string(),
  "Host Name": z.string().nullable(),
  "Nodes Reserved": z.string(),
  /** `HH:MM:SS` since the server started; only once it has. */
  Walltime: z.string().optional(),
  /** ISO 8601, as our `estimated_start`; only for a queued job whose start is known (Slurm's estimate, or our ETA). */
  "Estimated Start Time": z.string().optional(),
  /** `running`, `starting`, `queued` or `other`. */
  "Model Status": z.string(),
});
export type ReferenceJobFields = z.infer<typeof ReferenceJobFieldsSchema>;

/** A model with nothing running or queued (every model of a cluster in maintenance). */
export const StoppedModelSchema = z.looseObject({
  Models: z.string(),
  Framework: z.string(),
  Cluster: z.string(),
  "Model Status": z.literal("stopped"),
});

const ResourceJobSchema = JobEntrySchema.extend(ReferenceJobFieldsSchema.shape).loose();

/**
 * `GET /resource_server/{cluster}/jobs`: Switchyard's jobs view (`JobsViewSchema`) whose entries
 * also carry the reference gateway's keys, plus its other groups and `cluster_status`.
 */
export const ResourceJobsViewSchema = JobsViewSchema.extend({
  running: z.array(ResourceJobSchema),
  queued: z.array(ResourceJobSchema),
  others: z.array(ResourceJobSchema),
  stopped: z.array(StoppedModelSchema),
  /** Jobs dedicated to one user's batch; Switchyard runs batches on shared servers, so empty. */
  private_batch_running: z.array(ResourceJobSchema),
  private_batch_queued: z.array(ResourceJobSchema),
  cluster_status: z.looseObject({
    cluster: z.string(),
    /** Nodes with every GPU free. */
    free_nodes: z.int(),
    maintenance: z.boolean(),
    total_models: z.int(),
    live_models: z.int(),
    stopped_models: z.int(),
  }),
}).loose();
export type ResourceJobsView = z.infer<typeof ResourceJobsViewSchema>;

/** The 503 `model_not_ready` error's extra fields: what the model is doing and when to retry. */
export const ModelNotReadyDetailSchema = z.looseObject({
  model_state: ModelStatusSchema,
  queue_position: z.number().nullable(),
  eta_seconds: z.number().nullable(),
  retry_after: z.number(),
});

/** `POST /auth/token` (device, refresh-token and password grants). */
export const TokenResponseSchema = z.looseObject({
  access_token: z.string().min(1),
  token_type: z.string(),
  /** Seconds the access token is valid (48 h by default). */
  expires_in: z.number().positive(),
  refresh_token: z.string().min(1),
  scope: z.string().optional(),
});
export type TokenResponse = z.infer<typeof TokenResponseSchema>;

/** `POST /auth/device/code` (RFC 8628). */
export const DeviceCodeResponseSchema = z.looseObject({
  device_code: z.string().min(1),
  user_code: z.string().min(1),
  verification_uri: z.string(),
  verification_uri_complete: z.string().optional(),
  expires_in: z.number().positive(),
  interval: z.number().nonnegative().optional(),
});
export type DeviceCodeResponse = z.infer<typeof DeviceCodeResponseSchema>;

/** Errors of the `/auth/*` endpoints use RFC 6749's shape, not OpenAI's. */
export const OAuthErrorBodySchema = z.looseObject({ error: z.string(), error_description: z.string().optional() });
export type OAuthErrorBody = z.infer<typeof OAuthErrorBodySchema>;
