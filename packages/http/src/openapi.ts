import { ERROR_CATALOGUE, ErrorBodySchema, type ErrorCode } from "@switchyard/core";
import { z } from "zod";
import { PASS_THROUGH } from "./api-markdown";
import type { JsonSchema, NamedSchema, ResponseSpec, RouteSpec } from "./routes";

/** What any protected route may answer before its handler runs. */
export const AUTH_ERRORS: readonly ErrorCode[] = [
  "missing_credentials",
  "invalid_token",
  "token_expired",
  "invalid_api_key",
  "insufficient_scope",
];

/** What reading a request body may answer. */
export const BODY_ERRORS: readonly ErrorCode[] = ["invalid_json", "invalid_body", "invalid_field", "payload_too_large"];

/** What validating a declared query string may answer (no route's query has a required field). */
export const QUERY_ERRORS: readonly ErrorCode[] = ["invalid_field"];

/**
 * Every catalogue error a route may answer: those of its access (credentials, scope, admin),
 * the ones it declares, the unknown cluster or framework of its path parameters, and those of
 * validating its query and reading its body. Drives the OpenAPI document and the access matrix test.
 */
export function routeErrors(route: RouteSpec): ErrorCode[] {
  const codes = new Set<ErrorCode>(route.access === "public" ? [] : AUTH_ERRORS);
  for (const code of route.errors ?? []) codes.add(code);
  if (route.access === "admin") codes.add("admin_required");
  if (route.path.includes(":cluster")) codes.add("cluster_not_found");
  if (route.path.includes(":framework")) codes.add("framework_not_found");
  if (route.query) for (const code of QUERY_ERRORS) codes.add(code);
  if (route.body) for (const code of BODY_ERRORS) codes.add(code);
  return [...codes];
}

function toJsonSchema(schema: z.ZodType | JsonSchema): JsonSchema {
  if (schema instanceof z.ZodType) {
    return z.toJSONSchema(schema, { io: "input", unrepresentable: "any", target: "draft-2020-12" }) as JsonSchema;
  }
  return schema;
}

function responsesOf(codes: ErrorCode[]): Record<string, unknown> {
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

/** Collects the named schemas a document refers to; one name means one schema. */
class Components {
  readonly schemas: Record<string, JsonSchema> = { Error: toJsonSchema(ErrorBodySchema) };
  private readonly seen = new Map<string, unknown>([["Error", ErrorBodySchema]]);

  ref(named: NamedSchema): { $ref: string } {
    const known = this.seen.get(named.name);
    if (known === undefined) {
      this.seen.set(named.name, named.schema);
      this.schemas[named.name] = toJsonSchema(named.schema);
    } else if (known !== named.schema) {
      throw new Error(`two different schemas are named ${named.name}`);
    }
    return { $ref: `#/components/schemas/${named.name}` };
  }
}

function answerOf(response: ResponseSpec | undefined, components: Components): Record<string, unknown> {
  const description = response?.description ?? "OK";
  if (!response?.content) return { description };
  const content = Object.fromEntries(
    Object.entries(response.content).map(([media, named]) => [media, named ? { schema: components.ref(named) } : {}]),
  );
  return { description, content };
}

/**
 * The OpenAPI 3.1 document of every route in the route table: request and answer bodies from
 * the specs' zod schemas, errors from the catalogue (`routeErrors`). Generated, never written
 * by hand (docs/api.md too).
 */
export function buildOpenApi(routes: readonly RouteSpec[], version: string): Record<string, unknown> {
  const components = new Components();
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = route.path.replace(/:(\w+)/g, "{$1}").replace(/\*(\w+)/g, "{$1}");
    const queryParameters = route.query ? queryParametersOf(route.query) : [];
    const operation: Record<string, unknown> = {
      summary: route.summary,
      "x-switchyard-access": route.access,
      ...(route.access === "public"
        ? { security: [] }
        : { security: [{ bearer: [] }], "x-switchyard-scope": route.scope ?? "inference" }),
      parameters: [
        ...[...path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({
          name,
          in: "path",
          required: true,
          schema: { type: "string" },
        })),
        ...queryParameters,
      ],
      responses: {
        [String(route.response?.status ?? 200)]: answerOf(route.response, components),
        ...responsesOf(routeErrors(route)),
      },
    };
    if (route.body) {
      operation.requestBody = {
        required: true,
        content: { [route.body.media ?? "application/json"]: { schema: components.ref(route.body.schema) } },
        ...(route.body.passThrough ? { [PASS_THROUGH]: true } : {}),
      };
    }
    paths[path] ??= {};
    (paths[path] as Record<string, unknown>)[route.method.toLowerCase()] = operation;
  }
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
      schemas: components.schemas,
    },
    paths,
  };
}

/** A query schema's fields as OpenAPI query parameters. */
function queryParametersOf(query: z.ZodType): Record<string, unknown>[] {
  const schema = toJsonSchema(query) as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(schema.properties ?? {}).map(([name, property]) => ({
    name,
    in: "query",
    required: schema.required?.includes(name) ?? false,
    schema: property,
  }));
}
