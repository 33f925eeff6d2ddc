import { registerControlPlaneRoutes } from "@switchyard/api";
import { accessGuard, registerAuthRoutes } from "@switchyard/auth";
import { buildOpenApi, errorHandler, notFound, observeRequest, RouteTable } from "@switchyard/http";
import express, { type Express, type Request, type RequestHandler, type Response } from "express";
import { registerApiDocsRoutes } from "../api-docs";
import { registerClientRoutes } from "../clients";
import type { AppContext } from "../context";
import { type Dashboard, registerDashboardRoutes } from "../dashboard";
import { carriesScrapeToken } from "../metrics";
import { health, readiness } from "../probes";
import { API_DOCS_POLICY, DEVICE_PAGE_POLICY, dashboardPolicy, pageSecurityHeaders } from "./security-headers";

/** One log line and the HTTP metrics per request, with its request id (shared with the gateway's fast path). */
function requestContext(ctx: AppContext): RequestHandler {
  return (req, res, next) => {
    const facts = observeRequest(req, res, { logger: ctx.accessLog, metrics: ctx.metrics });
    res.locals.requestId = facts.requestId;
    res.locals.facts = facts;
    res.once("finish", () => {
      facts.route = String(res.locals.route ?? "unmatched");
      const principal = res.locals.principal as { username?: string } | undefined;
      if (principal?.username) facts.user = principal.username;
    });
    next();
  };
}

export function createApp(
  ctx: AppContext,
  options: { dashboard?: Dashboard; metricsToken?: string | undefined } = {},
): { app: Express; routes: RouteTable } {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.set("query parser", "simple");
  // Whose X-Forwarded-For decides `req.ip` (sign-in throttling keys on it); none by default.
  app.set("trust proxy", ctx.config.http.trustProxy);
  const routes = new RouteTable(accessGuard(ctx.auth));
  const router = express.Router();
  app.use(requestContext(ctx));
  app.use("/admin", pageSecurityHeaders(dashboardPolicy(ctx.config)));
  app.use("/device", pageSecurityHeaders(DEVICE_PAGE_POLICY));
  app.use("/docs", pageSecurityHeaders(API_DOCS_POLICY));

  routes.add(
    router,
    {
      method: "GET",
      path: "/health",
      access: "public",
      summary: "Liveness, database and Redis reachability, and the roles this instance runs",
    },
    async (_req, res) => {
      const answer = await health(ctx, ctx.redis);
      res.status(answer.status).json(answer.body);
    },
  );
  routes.add(
    router,
    {
      method: "GET",
      path: "/ready",
      access: "public",
      summary: "Readiness for load balancers: 200 when this instance can serve its roles, 503 with the reason",
    },
    async (_req, res) => {
      const answer = await readiness(ctx);
      res.status(answer.status).json(answer.body);
    },
  );
  const scrape = async (_req: Request, res: Response) => {
    res.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
  };
  const { metricsToken } = options;
  if (!ctx.config.metrics.public && metricsToken) {
    // A scraper's token opens /metrics without an account; anything else goes on to the admin check.
    router.get("/metrics", async (req, res, next) => {
      if (!carriesScrapeToken(req.headers.authorization, metricsToken)) return next();
      res.locals.route = "/metrics";
      await scrape(req, res);
    });
  }
  routes.add(
    router,
    {
      method: "GET",
      path: "/metrics",
      access: ctx.config.metrics.public ? "public" : "admin",
      scope: "admin",
      summary: "Prometheus metrics (admins or the scrape token; anyone with `metrics.public`)",
    },
    scrape,
  );
  registerAuthRoutes(router, routes, ctx.auth);
  ctx.gateway.register(router, routes);
  registerControlPlaneRoutes(router, routes, ctx);
  registerClientRoutes(router, routes);
  registerApiDocsRoutes(router, routes);
  if (options.dashboard) registerDashboardRoutes(router, routes, options.dashboard);
  let openapi: string | undefined;
  routes.add(
    router,
    {
      method: "GET",
      path: "/openapi.json",
      access: "public",
      summary: "The OpenAPI 3.1 document of every route (generated)",
    },
    (_req, res) => {
      openapi ??= JSON.stringify(buildOpenApi(routes.routes, ctx.version));
      res.type("json").send(openapi);
    },
  );

  app.use(router);
  app.use(notFound(routes));
  app.use(errorHandler(ctx.logger));
  return { app, routes };
}
