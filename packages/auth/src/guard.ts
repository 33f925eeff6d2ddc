import { sy } from "@switchyard/core";
import type { AccessGuard } from "@switchyard/http";
import type { Response } from "express";
import { hasScope, type Principal } from "./principal";
import type { AuthService } from "./service";

/** The principal the access guard put on this request (only on user/admin routes). */
export function principalOf(res: Response): Principal {
  const principal = res.locals.principal as Principal | undefined;
  if (!principal) throw new Error("principalOf() on a route without an access guard");
  return principal;
}

/**
 * The route table's access guard: resolves the caller once (cached), then checks the route's
 * access level (401 without valid credentials, 403 for a non-admin on an admin route) and the
 * API key's scope.
 */
export function accessGuard(auth: AuthService): AccessGuard {
  return (spec) => {
    if (spec.access === "public") return undefined;
    const scope = spec.scope ?? "inference";
    return async (req, res, next) => {
      const principal = await auth.authenticate(req.headers.authorization, req.headers["x-api-key"]);
      if (spec.access === "admin" && principal.role !== "admin") throw sy("admin_required", {});
      if (!hasScope(principal, scope)) throw sy("insufficient_scope", { scope });
      res.locals.principal = principal;
      next();
    };
  };
}
