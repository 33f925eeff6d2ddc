import { apiError, formatBytes, SwitchyardError } from "@switchyard/core";
import { BODY_ERRORS, type RouteTable, readText, sendError } from "@switchyard/http";
import { nodeHTTPRequestHandler } from "@trpc/server/adapters/node-http";
import type { Router } from "express";
import { type ApiDeps, contextFromCredentials } from "./context";
import { appRouter } from "./root";

/** Where the control plane is mounted. */
export const TRPC_PREFIX = "/trpc";

/**
 * Mount the control plane at /trpc (queries and subscriptions over GET, mutations over POST;
 * `/trpc/a,b?batch=1` batches). The routes are public in the route table because access is
 * decided per procedure (public, signed-in, keys scope, admin) by the same AuthService the
 * table's guard uses: one path serves procedures of every level, and the event stream
 * (EventSource cannot send headers) carries its token in tRPC's `connectionParams`.
 */
export function registerControlPlaneRoutes(router: Router, routes: RouteTable, deps: ApiDeps): void {
  const handler = async (
    req: Parameters<Parameters<Router["get"]>[1]>[0],
    res: Parameters<Parameters<Router["get"]>[1]>[1],
  ) => {
    const raw = (req.params as { procedure?: string | string[] }).procedure;
    const path = Array.isArray(raw) ? raw.join("/") : (raw ?? "");
    if (path === "") {
      sendError(res, apiError("route_not_found", { method: req.method, path: req.path }));
      return;
    }
    if (req.method === "POST") {
      // tRPC would buffer any body whole: refuse a declared oversize one before reading a byte,
      // and stop reading an undeclared one at the limit.
      const limit = deps.config.controlPlane.maxBodyBytes;
      const declared = Number(req.headers["content-length"] ?? 0);
      try {
        if (declared > limit) throw apiError("payload_too_large", { limit: formatBytes(limit) });
        (req as { body?: unknown }).body = await readText(req, limit);
      } catch (error) {
        if (!(error instanceof SwitchyardError)) throw error;
        // The rest of an oversize body is not worth reading: answer and close the connection.
        res.setHeader("connection", "close");
        sendError(res, error);
        return;
      }
    }
    await nodeHTTPRequestHandler({
      router: appRouter,
      req,
      res,
      path,
      createContext: ({ info }) => {
        const token = info.connectionParams?.token;
        const authorization = req.headers.authorization ?? (token ? `Bearer ${token}` : undefined);
        return contextFromCredentials(
          deps,
          authorization,
          req.headers["x-api-key"],
          req.ip ?? req.socket.remoteAddress,
        );
      },
      onError: ({ error, path: procedure }) => {
        if (error.code === "INTERNAL_SERVER_ERROR") {
          deps.logger.error(
            { err: error.cause ?? error, procedure, requestId: res.locals.requestId },
            "control plane: procedure failed",
          );
        }
      },
    });
  };
  const summary = "Control plane (tRPC); each procedure checks its own access";
  routes.add(router, { method: "GET", path: `${TRPC_PREFIX}/*procedure`, access: "public", summary }, handler);
  routes.add(
    router,
    // tRPC reads a JSON body; its procedures' own errors are in the control plane's documentation.
    { method: "POST", path: `${TRPC_PREFIX}/*procedure`, access: "public", summary, errors: BODY_ERRORS },
    handler,
  );
}
