import { z } from "zod";
import type { JobsView } from "./control-plane";
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

/** The body of `POST /v1/keys`. */
export interface CreateApiKeyRequest {
  name?: string;
  /** 1 to 3650; omitted: the key never expires. */
  expires_days?: number;
  /** Default: inference and batch. */
  scopes?: ("inference" | "batch" | "keys" | "admin")[];
}

/** One deployment in the jobs view (`GET /resource_server/{cluster}/jobs`, `JobsViewSchema` in control-plane.ts). */
export type Job = JobsView["running"][number];

/** `GET /resource_server/list-endpoints`. */
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
        z.looseObject({ models: z.array(z.string()), endpoints: z.record(z.string(), z.string()) }),
      ),
    }),
  ),
});
export type EndpointList = z.infer<typeof EndpointListSchema>;

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
