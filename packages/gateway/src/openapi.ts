import {
  BatchListSchema,
  BatchObjectSchema,
  ChatCompletionChunkSchema,
  ChatCompletionSchema,
  ClusterStatusMapSchema,
  CompletionSchema,
  CreateBatchRequestSchema,
  EmbeddingResponseSchema,
  EndpointListSchema,
  ERROR_CATALOGUE,
  ErrorBodySchema,
  type ErrorCode,
  FileDeletedSchema,
  FileListSchema,
  FileObjectSchema,
  ModelDetailsListSchema,
  ModelListSchema,
  ModelObjectSchema,
  ReferenceBatchDetailSchema,
  ReferenceBatchResultSchema,
  ReferenceBatchSchema,
  ReferenceCreateBatchSchema,
  ResourceJobsViewSchema,
  WhoamiSchema,
} from "@switchyard/core";
import type { RouteSpec } from "@switchyard/http";
import { z } from "zod";
import { KINDS, type KindSpec } from "./kinds";

const AUTH_ERRORS: ErrorCode[] = [
  "missing_credentials",
  "invalid_token",
  "token_expired",
  "invalid_api_key",
  "insufficient_scope",
];
const INFERENCE_ERRORS: ErrorCode[] = [
  "invalid_json",
  "invalid_body",
  "missing_required_field",
  "invalid_field",
  ...AUTH_ERRORS,
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
];

const BATCH_ERRORS: ErrorCode[] = [
  "batch_not_found",
  "file_not_found",
  "batch_state_conflict",
  "batch_limit_reached",
  "model_not_found",
  "model_access_denied",
  "capability_not_supported",
];

/** Request and response bodies of the non-inference routes that have them (names of components). */
const BODIES: Record<string, { request?: string; response: string; errors?: ErrorCode[] }> = {
  "POST /v1/files": {
    request: "FileUpload",
    response: "File",
    errors: ["unsupported_content_type", "missing_required_field"],
  },
  "GET /v1/files": { response: "FileList" },
  "GET /v1/files/:file_id": { response: "File", errors: ["file_not_found"] },
  "DELETE /v1/files/:file_id": { response: "FileDeleted", errors: ["file_not_found", "file_in_use"] },
  "POST /v1/batches": { request: "CreateBatchRequest", response: "Batch", errors: BATCH_ERRORS },
  "GET /v1/batches": { response: "BatchList", errors: ["batch_not_found"] },
  "GET /v1/batches/:batch_id": { response: "Batch", errors: ["batch_not_found"] },
  "POST /v1/batches/:batch_id/cancel": { response: "Batch", errors: ["batch_not_found", "batch_state_conflict"] },
  "POST /resource_server/v1/batches": {
    request: "ReferenceCreateBatch",
    response: "ReferenceBatchDetail",
    errors: [...BATCH_ERRORS, "invalid_path", "path_not_allowed"],
  },
  "GET /resource_server/v1/batches": { response: "ReferenceBatchList" },
  "GET /resource_server/v1/batches/:batch_id": { response: "ReferenceBatchDetail", errors: ["batch_not_found"] },
  "GET /resource_server/v1/batches/:batch_id/result": {
    response: "ReferenceBatchResult",
    errors: ["batch_not_found", "batch_state_conflict"],
  },
  "POST /resource_server/v1/batches/:batch_id/cancel": {
    response: "ReferenceBatchDetail",
    errors: ["batch_not_found", "batch_state_conflict"],
  },
  "GET /resource_server/status": { response: "ClusterStatusMap" },
  "GET /resource_server/whoami": { response: "Whoami" },
  "GET /resource_server/list-endpoints": { response: "EndpointList" },
  "GET /resource_server/:cluster/jobs": {
    response: "ResourceJobsView",
    errors: ["cluster_access_denied"],
  },
  "GET /resource_server/:cluster/models": {
    response: "ModelDetailsList",
    errors: ["cluster_access_denied", "model_not_found"],
  },
};

function bodiesOf(route: RouteSpec) {
  return BODIES[`${route.method} ${route.path.replace("/resource_server/:cluster/:framework/", "/resource_server/")}`];
}

function schema(s: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(s, { io: "input", unrepresentable: "any", target: "draft-2020-12" }) as Record<string, unknown>;
}

function errorsOf(route: RouteSpec, kind: KindSpec | undefined): ErrorCode[] {
  if (kind) return INFERENCE_ERRORS;
  const codes: ErrorCode[] = route.access === "public" ? [] : [...AUTH_ERRORS];
  for (const code of bodiesOf(route)?.errors ?? []) if (!codes.includes(code)) codes.push(code);
  if (route.access === "admin") codes.push("admin_required");
  if (route.path.includes(":cluster")) codes.push("cluster_not_found");
  if (route.path.includes(":framework")) codes.push("framework_not_found");
  if (route.path.includes("/v1/models/")) codes.push("model_not_found", "model_access_denied");
  if (route.method === "POST" && !route.path.startsWith("/auth/") && route.path !== "/device") {
    for (const code of ["invalid_json", "invalid_body", "invalid_field", "payload_too_large"] as const) {
      if (!codes.includes(code)) codes.push(code);
    }
  }
  return codes;
}

function responses(codes: ErrorCode[]): Record<string, unknown> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = ERROR_CATALOGUE[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([status, list]) => [
        String(status),
        {
          description: list.map((c) => `\`${c}\`: ${ERROR_CATALOGUE[c].description}`).join(" "),
          content: {
            "application/json": {
              schema: { $ref: "#/components/schemas/Error" },
              examples: Object.fromEntries(
                list.map((c) => [
                  c,
                  {
                    value: {
                      error: {
                        message: ERROR_CATALOGUE[c].message,
                        type: ERROR_CATALOGUE[c].type,
                        param: null,
                        code: c,
                      },
                    },
                  },
                ]),
              ),
            },
          },
        },
      ]),
  );
}

function kindOf(route: RouteSpec): KindSpec | undefined {
  if (route.method !== "POST") return undefined;
  return Object.values(KINDS).find((k) => route.path.endsWith(`/v1/${k.path}`));
}

const RESPONSE_SCHEMAS: Partial<Record<KindSpec["kind"], string>> = {
  chat: "ChatCompletion",
  completions: "Completion",
  embeddings: "EmbeddingResponse",
};

/**
 * The OpenAPI 3.1 document of every route in the route table: request bodies from core's zod
 * schemas, errors from the catalogue. Generated, never written by hand (docs/api.md too).
 */
export function buildOpenApi(routes: readonly RouteSpec[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = route.path.replace(/:(\w+)/g, "{$1}").replace(/\*(\w+)/g, "{$1}");
    const kind = kindOf(route);
    const operation: Record<string, unknown> = {
      summary: route.summary,
      "x-switchyard-access": route.access,
      ...(route.access === "public"
        ? { security: [] }
        : { security: [{ bearer: [] }], "x-switchyard-scope": route.scope ?? "inference" }),
      parameters: [...path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({
        name,
        in: "path",
        required: true,
        schema: { type: "string" },
      })),
      responses: {
        "200": kind
          ? {
              description: kind.streams
                ? "The answer; with `stream: true`, server-sent events ending with `data: [DONE]`."
                : "The answer.",
              content: {
                "application/json": RESPONSE_SCHEMAS[kind.kind]
                  ? { schema: { $ref: `#/components/schemas/${RESPONSE_SCHEMAS[kind.kind]}` } }
                  : {},
                ...(kind.streams
                  ? {
                      "text/event-stream":
                        kind.kind === "chat" ? { schema: { $ref: "#/components/schemas/ChatCompletionChunk" } } : {},
                    }
                  : {}),
              },
            }
          : route.path === "/v1/models"
            ? {
                description: "Every model you may use.",
                content: { "application/json": { schema: { $ref: "#/components/schemas/ModelList" } } },
              }
            : route.path === "/v1/models/*id"
              ? {
                  description: "One model.",
                  content: { "application/json": { schema: { $ref: "#/components/schemas/Model" } } },
                }
              : bodiesOf(route)
                ? {
                    description: "OK",
                    content: {
                      "application/json": { schema: { $ref: `#/components/schemas/${bodiesOf(route)?.response}` } },
                    },
                  }
                : { description: "OK" },
        ...responses(errorsOf(route, kind)),
      },
    };
    const bodies = bodiesOf(route);
    if (kind) {
      operation.requestBody = {
        required: true,
        content: { "application/json": { schema: { $ref: `#/components/schemas/${kind.kind}Request` } } },
      };
    } else if (bodies?.request) {
      const media = bodies.request === "FileUpload" ? "multipart/form-data" : "application/json";
      operation.requestBody = {
        required: true,
        content: { [media]: { schema: { $ref: `#/components/schemas/${bodies.request}` } } },
      };
    }
    paths[path] ??= {};
    (paths[path] as Record<string, unknown>)[route.method.toLowerCase()] = operation;
  }
  const schemas: Record<string, unknown> = {
    Error: schema(ErrorBodySchema),
    Model: schema(ModelObjectSchema),
    ModelList: schema(ModelListSchema),
    ChatCompletion: schema(ChatCompletionSchema),
    ChatCompletionChunk: schema(ChatCompletionChunkSchema),
    Completion: schema(CompletionSchema),
    EmbeddingResponse: schema(EmbeddingResponseSchema),
    File: schema(FileObjectSchema),
    FileList: schema(FileListSchema),
    FileDeleted: schema(FileDeletedSchema),
    FileUpload: {
      type: "object",
      required: ["file", "purpose"],
      properties: {
        file: { type: "string", format: "binary", description: "The JSONL file" },
        purpose: { type: "string", enum: ["batch"] },
      },
    },
    CreateBatchRequest: schema(CreateBatchRequestSchema),
    Batch: schema(BatchObjectSchema),
    BatchList: schema(BatchListSchema),
    ReferenceCreateBatch: schema(ReferenceCreateBatchSchema),
    ReferenceBatchList: { type: "array", items: schema(ReferenceBatchSchema) },
    ReferenceBatchDetail: schema(ReferenceBatchDetailSchema),
    ReferenceBatchResult: schema(ReferenceBatchResultSchema),
    ClusterStatusMap: schema(ClusterStatusMapSchema),
    Whoami: schema(WhoamiSchema),
    EndpointList: schema(EndpointListSchema),
    ResourceJobsView: schema(ResourceJobsViewSchema),
    ModelDetailsList: schema(ModelDetailsListSchema),
  };
  for (const kind of Object.values(KINDS)) schemas[`${kind.kind}Request`] = schema(kind.schema);
  return {
    openapi: "3.1.0",
    info: {
      title: "Switchyard",
      version,
      description:
        "OpenAI-compatible inference (plain /v1 and the reference service's /resource_server paths), model status, sign-in and keys. Errors use OpenAI's shape.",
    },
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "An access token or an API key (sy_...)" },
      },
      schemas,
    },
    paths,
  };
}

/** docs/api.md from the OpenAPI document: one section per route, its access and its errors. */
export function apiMarkdown(doc: Record<string, unknown>): string {
  const lines = [
    "# HTTP API",
    "",
    "<!-- Generated from the server's route table and core's schemas by `pnpm docs:generate`; do not edit by hand. -->",
    "",
    "The machine-readable version is served at `GET /openapi.json` (OpenAPI 3.1). Every error body",
    "has OpenAI's shape; the codes are listed in [errors.md](errors.md). Credentials: `Authorization:",
    "Bearer <access token or API key>` on every route not marked public.",
    "",
    "| method | path | access | API key scope | summary |",
    "| --- | --- | --- | --- | --- |",
  ];
  const paths = doc.paths as Record<string, Record<string, Record<string, unknown>>>;
  const sections: string[] = [];
  for (const [path, methods] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(methods)) {
      lines.push(
        `| ${method.toUpperCase()} | \`${path}\` | ${op["x-switchyard-access"]} | ${op["x-switchyard-scope"] ?? "-"} | ${op.summary} |`,
      );
      const errors = Object.entries(
        op.responses as Record<string, { content?: Record<string, { examples?: Record<string, unknown> }> }>,
      )
        .filter(([status]) => status !== "200")
        .map(
          ([status, r]) =>
            `${status} (${Object.keys(r.content?.["application/json"]?.examples ?? {})
              .map((c) => `\`${c}\``)
              .join(", ")})`,
        );
      const requestContent = (op.requestBody as { content: Record<string, { schema: { $ref: string } }> } | undefined)
        ?.content;
      const body = requestContent
        ? `${Object.values(requestContent)[0]?.schema.$ref.split("/").pop()}\` (${Object.keys(requestContent)[0]}`
        : undefined;
      const answer = (op.responses as Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>)[
        "200"
      ]?.content?.["application/json"]?.schema?.$ref
        ?.split("/")
        .pop();
      sections.push(
        [
          `### ${method.toUpperCase()} ${path}`,
          "",
          String(op.summary),
          "",
          ...(body ? [`Request body: \`${body}, see /openapi.json).`, ""] : []),
          ...(answer ? [`Answer: \`${answer}\`.`, ""] : []),
          ...(errors.length ? [`Errors: ${errors.join("; ")}.`, ""] : []),
        ].join("\n"),
      );
    }
  }
  return [...lines, "", "## Routes", "", ...sections].join("\n");
}
