import { randomUUID } from "node:crypto";
import { registerControlPlaneRoutes } from "@switchyard/api";
import { accessGuard, registerAuthRoutes } from "@switchyard/auth";
import { errorHandler, notFound, RouteTable } from "@switchyard/http";
import { registerSchedulerRoutes } from "@switchyard/scheduler";
import express, { type Express, type RequestHandler } from "express";
import type { AppContext } from "../context";
import { type Dashboard, registerDashboardRoutes } from "../dashboard";

/** `x-request-id` accepted (when sane) or made, returned, and put on the request's log line. */
function requestContext(ctx: AppContext): RequestHandler {
  return (req, res, next) => {
    const given = req.headers["x-request-id"];
    const requestId = typeof given === "string" && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
    res.locals.requestId = requestId;
    res.setHeader("x-request-id", requestId);
    const start = process.hrtime.bigint();
    res.on("finish", () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const route = String(res.locals.route ?? "unmatched");
      ctx.metrics.httpRequests.inc({ route, method: req.method, status: String(res.statusCode) });
      ctx.metrics.httpDuration.observe({ route, method: req.method }, seconds);
      const principal = res.locals.principal as { username?: string } | undefined;
      ctx.logger.info(
        {
          requestId,
          method: req.method,
          path: req.path,
          status: res.statusCode,
          ms: Math.round(seconds * 1e4) / 10,
          ...(principal?.username ? { user: principal.username } : {}),
        },
        "request",
      );
    });
    next();
  };
}

export function createApp(
  ctx: AppContext,
  options: { dashboard?: Dashboard } = {},
): { app: Express; routes: RouteTable } {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.set("query parser", "simple");
  const routes = new RouteTable(accessGuard(ctx.auth));
  const router = express.Router();
  app.use(requestContext(ctx));

  routes.add(
    router,
    { method: "GET", path: "/health", access: "public", summary: "Liveness and database reachability" },
    async (_req, res) => {
      const up = await ctx.db.ping();
      res.status(up ? 200 : 503).json({
        status: up ? "ok" : "unavailable",
        version: ctx.version,
        database: { driver: ctx.db.driver, status: up ? "up" : "down" },
        uptime_seconds: Math.round((ctx.clock.now() - ctx.startedAt) / 1000),
      });
    },
  );
  routes.add(
    router,
    {
      method: "GET",
      path: "/metrics",
      access: ctx.config.auth.publicMetrics ? "public" : "admin",
      scope: "admin",
      summary: "Prometheus metrics",
    },
    async (_req, res) => {
      res.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
    },
  );
  registerAuthRoutes(router, routes, ctx.auth);
  registerSchedulerRoutes(router, routes, { config: ctx.config, scheduler: ctx.scheduler, db: ctx.db });
  registerControlPlaneRoutes(router, routes, ctx);
  if (options.dashboard) registerDashboardRoutes(router, routes, options.dashboard);

  app.use(router);
  app.use(notFound(routes));
  app.use(errorHandler(ctx.logger));
  return { app, routes };
}
