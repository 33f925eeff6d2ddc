import type { ErrorCode } from "@switchyard/core";
import { named, type ResponseSpec, type RouteSpec } from "@switchyard/http";
import { KINDS, type KindSpec } from "../kinds";
import { SCHEMAS } from "./schemas";

/** What an inference request may answer, from reading its body to the model server's reply. */
export const INFERENCE_ERRORS: readonly ErrorCode[] = [
  "invalid_json",
  "invalid_body",
  "missing_required_field",
  "invalid_field",
  "model_access_denied",
  "cluster_access_denied",
  "model_not_found",
  "model_not_on_cluster",
  "cluster_not_found",
  "framework_not_found",
  "payload_too_large",
  "capability_not_supported",
  "model_server_rejected",
  "rate_limit_requests",
  "rate_limit_tokens",
  "model_not_ready",
  "cluster_unavailable",
  "upstream_error",
  "upstream_timeout",
  // with gateway.chargeProjects
  "project_required",
  "project_not_allowed",
  "no_active_allocation",
  "project_not_found",
  "allocation_exhausted",
];

const ANSWERS: Partial<Record<KindSpec["kind"], { json?: keyof typeof SCHEMAS; stream?: keyof typeof SCHEMAS }>> = {
  chat: { json: "ChatCompletion", stream: "ChatCompletionChunk" },
  completions: { json: "Completion" },
  embeddings: { json: "EmbeddingResponse" },
};

function answerOf(kind: KindSpec): ResponseSpec {
  const names = ANSWERS[kind.kind] ?? {};
  const json = names.json ? SCHEMAS[names.json] : null;
  if (!kind.streams) return { description: "The answer.", content: { "application/json": json } };
  return {
    description: "The answer; with `stream: true`, server-sent events ending with `data: [DONE]`.",
    content: { "application/json": json, "text/event-stream": names.stream ? SCHEMAS[names.stream] : null },
  };
}

/** An inference route: its spec in the route table, the API it proxies, and whether its path names the cluster. */
export interface InferenceRoute {
  spec: RouteSpec;
  kind: KindSpec;
  /** `/resource_server/:cluster/:framework/v1/...`: the path picks the cluster and framework. */
  byPath: boolean;
}

/**
 * The inference routes, one per API on both path families. The same specs are registered in
 * the route table (Express, OpenAPI, the access matrix) and make the fast path's matcher.
 */
export const INFERENCE_ROUTES: readonly InferenceRoute[] = Object.values(KINDS).flatMap((kind) => {
  const common = {
    method: "POST",
    access: "user",
    scope: "inference",
    // The handler reads the body itself (size cap, depth scan, one parse) on both paths, checks
    // the fields the schema names and forwards the client's bytes.
    body: { schema: named(`${kind.kind}Request`, kind.schema), readBy: "handler", passThrough: true },
    response: answerOf(kind),
    errors: INFERENCE_ERRORS,
  } as const;
  const summary = `OpenAI-compatible ${kind.label}`;
  return [
    { kind, byPath: false, spec: { ...common, path: `/v1/${kind.path}`, summary } },
    {
      kind,
      byPath: true,
      spec: {
        ...common,
        path: `/resource_server/:cluster/:framework/v1/${kind.path}`,
        summary: `${summary} (reference path)`,
      },
    },
  ];
});
