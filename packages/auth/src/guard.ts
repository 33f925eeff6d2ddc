import type { IncomingHttpHeaders } from "node:http";
import { apiError } from "@switchyard/core";
import type { AccessGuard, RouteSpec } from "@switchyard/http";
import type { Response } from "express";
import { actsAsAdmin, hasScope, type Principal } from "./principal";
import type { AuthService } from "./service";

/** The principal the access guard put on this request (only on user/admin routes). */
export function principalOf(res: Response): Principal {
  const principal = res.locals.principal as Principal | undefined;
  if (!principal) throw new Error("principalOf() on a route without an access guard");
  return principal;
}

/**
 * The one check for admin-only work (routes, control-plane procedures): the admin role (403
 * `admin_required` without it) and, for an API key, its `admin` scope (403 `insufficient_scope`).
 */
export function assertActsAsAdmin(principal: Principal): void {
  if (principal.role !== "admin") throw apiError("admin_required", {});
  if (!actsAsAdmin(principal)) throw apiError("insufficient_scope", { scope: "admin" });
}

/**
 * Who may call a route with these headers: resolves the caller once (cached), then checks the
 * route's access level (401 without valid credentials, 403 for a non-admin on an admin route)
 * and the API key's scope. The route guard and the gateway's fast path both call this, with the
 * caller's address (an API key's first use from an address goes to the audit log).
 */
export async function admit(
  auth: AuthService,
  spec: Pick<RouteSpec, "access" | "scope">,
  headers: IncomingHttpHeaders,
  address?: string,
): Promise<Principal> {
  const principal = await auth.authenticate(headers.authorization, headers["x-api-key"], address);
  if (spec.access === "admin") assertActsAsAdmin(principal);
  const scope = spec.scope ?? "inference";
  if (!hasScope(principal, scope)) throw apiError("insufficient_scope", { scope });
  return principal;
}

/** The route table's access guard: `admit`, then the principal is on `res.locals`. */
export function accessGuard(auth: AuthService): AccessGuard {
  return (spec) => {
    if (spec.access === "public") return undefined;
    return async (req, res, next) => {
      res.locals.principal = await admit(auth, spec, req.headers, req.ip ?? req.socket.remoteAddress);
      next();
    };
  };
}
