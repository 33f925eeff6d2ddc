import type { Request, RequestHandler, Response, Router } from "express";
import { match } from "path-to-regexp";

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** Who may call a route: anyone, any signed-in principal, or an admin. */
export type RouteAccess = "public" | "user" | "admin";

/**
 * What an API key must be scoped for to call a route (a signed-in user's token carries every
 * scope): `inference` (models, chat, embeddings), `batch` (files, batches), `keys` (managing
 * one's own keys), `admin` (the control plane).
 */
export type RouteScope = "inference" | "batch" | "keys" | "admin";

export interface RouteSpec {
  method: HttpMethod;
  /** Express path pattern, e.g. `/v1/models/*id`. */
  path: string;
  access: RouteAccess;
  /** For `user`/`admin` routes: the API key scope needed (default `inference`; `any` for any key). */
  scope?: RouteScope | "any";
  summary: string;
}

export type RouteHandler = (req: Request, res: Response) => Promise<void> | void;

/** Builds the middleware that admits a request to a route of the given spec (authentication). */
export type AccessGuard = (spec: RouteSpec) => RequestHandler | undefined;

/**
 * Every route the server has, in one table: registered on the router with its access guard
 * (so no route can forget authentication), used for 405s, and walked by the auth matrix test
 * and the OpenAPI generation so new routes are covered at once.
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

  add(router: Router, spec: RouteSpec, handler: RouteHandler, ...before: RequestHandler[]): void {
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
    router[method](spec.path, ...chain, async (req, res) => {
      await handler(req, res);
    });
  }

  /** Methods registered for a path, for `405 Method Not Allowed` and its `Allow` header. */
  methodsFor(path: string): HttpMethod[] {
    return this.matchers.filter((m) => m.test(path)).map((m) => m.spec.method);
  }
}
