import type { Request, RequestHandler, Response, Router } from "express";
import { match } from "path-to-regexp";

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** Who may call a route; the auth issue's middleware and its 401/403 matrix test read this. */
export type RouteAccess = "public" | "user" | "admin";

export interface RouteSpec {
  method: HttpMethod;
  /** Express path pattern, e.g. `/v1/models/:id`. */
  path: string;
  access: RouteAccess;
  summary: string;
}

export type RouteHandler = (req: Request, res: Response) => Promise<void> | void;

/**
 * Every route the server has, in one table: registered on the router, used for 405s, and
 * (later) walked by the auth matrix and OpenAPI generation so new routes are covered at once.
 */
export class RouteTable {
  readonly routes: RouteSpec[] = [];
  private readonly matchers: { spec: RouteSpec; test: (path: string) => boolean }[] = [];

  add(router: Router, spec: RouteSpec, handler: RouteHandler, ...before: RequestHandler[]): void {
    this.routes.push(spec);
    const matcher = match(spec.path, { decode: decodeURIComponent });
    this.matchers.push({ spec, test: (path) => matcher(path) !== false });
    const method = spec.method.toLowerCase() as "get" | "post" | "put" | "patch" | "delete";
    router[method](spec.path, ...before, async (req, res) => {
      res.locals.route = spec.path;
      await handler(req, res);
    });
  }

  /** Methods registered for a path, for `405 Method Not Allowed` and its `Allow` header. */
  methodsFor(path: string): HttpMethod[] {
    return this.matchers.filter((m) => m.test(path)).map((m) => m.spec.method);
  }
}
