import { type ErrorCode, parseOrThrow } from "@switchyard/core";
import type { Request, RequestHandler, Response, Router } from "express";
import { match } from "path-to-regexp";
import type { z } from "zod";
import { readJsonObject } from "./body";

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** Who may call a route: anyone, any signed-in principal, or an admin. */
export type RouteAccess = "public" | "user" | "admin";

/**
 * What an API key must be scoped for to call a route (a signed-in user's token carries every
 * scope): `inference` (models, chat, embeddings), `batch` (files, batches), `keys` (managing
 * one's own keys), `admin` (the control plane).
 */
export type RouteScope = "inference" | "batch" | "keys" | "admin";

/** A JSON Schema written by hand, for a shape zod does not describe (a multipart form). */
export type JsonSchema = Record<string, unknown>;

/** A schema with the name it has in the OpenAPI document's components. */
export interface NamedSchema<S extends z.ZodType | JsonSchema = z.ZodType | JsonSchema> {
  readonly name: string;
  readonly schema: S;
}

export function named<S extends z.ZodType | JsonSchema>(name: string, schema: S): NamedSchema<S> {
  return { name, schema };
}

export type BodyMedia = "application/json" | "multipart/form-data";
export type AnswerMedia = "application/json" | "text/event-stream";

export interface BodySpec<S extends z.ZodType | JsonSchema = z.ZodType | JsonSchema> {
  schema: NamedSchema<S>;
  /** Default `application/json`. */
  media?: BodyMedia;
  /**
   * Who reads the body: the table (a small JSON object, read and validated before the handler
   * runs: the default for JSON), or the handler itself (uploads, the inference path's own reader).
   */
  readBy?: "table" | "handler";
  /**
   * The body goes to the model server as the client sent it: the schema names only the fields
   * Switchyard reads or checks, and any other field is forwarded unchanged (documented so).
   */
  passThrough?: boolean;
}

export interface ResponseSpec {
  /** The success status; default 200. */
  status?: 200 | 201;
  /** Default "OK". */
  description?: string;
  /** What a 200 carries, by media type; `null`: the shape is the model server's, not described. */
  content?: Partial<Record<AnswerMedia, NamedSchema | null>>;
}

export interface RouteSpec {
  method: HttpMethod;
  /** Express path pattern, e.g. `/v1/models/*id`. */
  path: string;
  access: RouteAccess;
  /** For `user`/`admin` routes: the API key scope needed (default `inference`; `any` for any key). */
  scope?: RouteScope | "any";
  summary: string;
  /** The request body; the table reads and validates a JSON one (see `BodySpec.readBy`). */
  body?: BodySpec;
  /** The query string: validated by the table before the handler runs (the catalogue's 400 naming the field). */
  query?: z.ZodType;
  /** The success answer (200 unless `response.status` says otherwise). */
  response?: ResponseSpec;
  /**
   * The catalogue errors the route may answer besides those its spec implies (see `routeErrors`:
   * its access, its `:cluster`/`:framework` parameters, its body).
   */
  errors?: readonly ErrorCode[];
}

type Output<S> = S extends z.ZodType ? z.output<S> : undefined;

/** What the table validated for a handler: the body (when the table reads it) and the query. */
export interface RouteInput<S extends RouteSpec> {
  body: S["body"] extends BodySpec<infer B>
    ? S["body"] extends { readBy: "handler" }
      ? undefined
      : Output<B>
    : undefined;
  query: Output<S["query"]>;
}

export type RouteHandler<S extends RouteSpec = RouteSpec> = (
  req: Request,
  res: Response,
  input: RouteInput<S>,
) => Promise<void> | void;

/** Builds the middleware that admits a request to a route of the given spec (authentication). */
export type AccessGuard = (spec: RouteSpec) => RequestHandler | undefined;

/** Whether the table reads and validates a route's body before its handler. */
export function tableReadsBody(spec: RouteSpec): boolean {
  const body = spec.body;
  if (!body || (body.media ?? "application/json") !== "application/json") return false;
  return (body.readBy ?? "table") === "table" && typeof (body.schema.schema as z.ZodType).safeParse === "function";
}

/** What a route that validates nothing is handed (one object for all requests). */
const NO_INPUT = Object.freeze({ body: undefined, query: undefined });

async function inputOf(spec: RouteSpec, req: Request): Promise<{ body: unknown; query: unknown }> {
  const query = spec.query ? parseOrThrow(spec.query, req.query) : undefined;
  const body = tableReadsBody(spec)
    ? parseOrThrow(spec.body?.schema.schema as z.ZodType, await readJsonObject(req))
    : undefined;
  return { body, query };
}

/**
 * Every route the server has, in one table: registered on the router with its access guard
 * (so no route can forget authentication) and the validation of its body and query, used for
 * 405s, for the fast path's matcher (`RouteMatcher`), for the OpenAPI document (`buildOpenApi`)
 * and walked by the auth matrix test, so new routes are covered at once.
 */
export class RouteTable {
  readonly routes: RouteSpec[] = [];
  private readonly matchers: { spec: RouteSpec; test: (path: string) => boolean }[] = [];
  private guard: AccessGuard | undefined;

  constructor(guard?: AccessGuard) {
    this.guard = guard;
  }

  /** Set the access guard; must happen before non-public routes are added. */
  setGuard(guard: AccessGuard): void {
    if (this.routes.some((r) => r.access !== "public")) {
      throw new Error("the access guard must be set before protected routes are added");
    }
    this.guard = guard;
  }

  add<S extends RouteSpec>(router: Router, spec: S, handler: RouteHandler<S>, ...before: RequestHandler[]): void {
    const guard = spec.access === "public" ? undefined : this.guard?.(spec);
    if (spec.access !== "public" && !guard) {
      throw new Error(`route ${spec.method} ${spec.path} needs ${spec.access} access but no access guard is set`);
    }
    this.routes.push(spec);
    const matcher = match(spec.path, { decode: decodeURIComponent });
    this.matchers.push({ spec, test: (path) => matcher(path) !== false });
    const method = spec.method.toLowerCase() as "get" | "post" | "put" | "patch" | "delete";
    const tag: RequestHandler = (_req, res, next) => {
      res.locals.route = spec.path;
      next();
    };
    const chain = guard ? [tag, guard, ...before] : [tag, ...before];
    const validates = spec.query !== undefined || tableReadsBody(spec);
    router[method](spec.path, ...chain, async (req, res) => {
      const input = validates ? await inputOf(spec, req) : NO_INPUT;
      await handler(req, res, input as RouteInput<S>);
    });
  }

  /** Methods registered for a path, for `405 Method Not Allowed` and its `Allow` header. */
  methodsFor(path: string): HttpMethod[] {
    return this.matchers.filter((m) => m.test(path)).map((m) => m.spec.method);
  }
}
