import type { IncomingMessage, ServerResponse } from "node:http";
import { type AuthService, admit, isGatewayWorker, principalOf, type RedisLink } from "@switchyard/auth";
import type { SwitchyardConfig } from "@switchyard/core";
import type { Database } from "@switchyard/db";
import type { EngineAdapterOptions } from "@switchyard/engines";
import {
  observeRequest,
  type RequestFacts,
  type RequestMetrics,
  RouteMatcher,
  type RouteTable,
} from "@switchyard/http";
import type { Scheduler } from "@switchyard/scheduler";
import { Upstreams } from "@switchyard/upstream";
import { CachedCharges, type Projects, type UsageRecorder } from "@switchyard/usage";
import type { Router } from "express";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { type BatchRouteDeps, registerBatchRoutes } from "./batches";
import { answerError, type GatewayDeps, serveInference } from "./handler";
import type { KindSpec } from "./kinds";
import { RateLimits } from "./limits";
import { ClusterRateLimits } from "./limits-cluster";
import { GatewayMetrics } from "./metrics";
import { ModelResolver } from "./resolve";
import { INFERENCE_ROUTES, type InferenceRoute } from "./routes/inference";
import { registerModelRoutes } from "./routes/models";

export interface GatewayOptions {
  config: SwitchyardConfig;
  scheduler: Scheduler;
  auth: AuthService;
  /** For the model list's creation times. */
  db: Database;
  /** Where each request's usage goes (the process's one recorder, which batches share). */
  usage: UsageRecorder;
  logger: Logger;
  /** The per-request log line's logger. */
  accessLog: Logger;
  registry: Registry;
  requestMetrics: RequestMetrics;
  engines: EngineAdapterOptions;
  redis?: RedisLink | undefined;
  /** Projects (allocations), to charge interactive requests to when `gateway.chargeProjects` is on. */
  projects?: Projects | undefined;
  /** The batch service and file store, for the Files, Batches and reference batch routes. */
  batches?: Pick<BatchRouteDeps, "service" | "files"> | undefined;
}

/**
 * The OpenAI-compatible front door. Its routes are in the route table like every other (auth
 * guard, 405s, OpenAPI, the 401/403 matrix), and `dispatch` serves the same requests before
 * Express sees them: the inference hot path skips Express's router and middleware stack, which
 * the benchmark showed to cost more than proxying itself.
 */
export class Gateway {
  readonly deps: GatewayDeps;
  /** The inference routes of the table, matched before Express sees a request. */
  private readonly fast = new RouteMatcher(INFERENCE_ROUTES.map((route) => ({ spec: route.spec, value: route })));

  constructor(private readonly options: GatewayOptions) {
    const { config } = options;
    const metrics = new GatewayMetrics(options.registry);
    this.deps = {
      settings: config.gateway,
      scheduler: options.scheduler,
      resolver: new ModelResolver(config, options.scheduler, options.engines),
      // A gateway worker of `serve --workers N` without Redis counts in its primary process.
      limits:
        !options.redis && isGatewayWorker()
          ? new ClusterRateLimits()
          : new RateLimits(config.gateway.limits, options.redis),
      usage: options.usage,
      upstreams: new Upstreams({
        connections: 256,
        connectTimeoutMs: config.gateway.connectTimeout * 1000,
        timeoutMs: config.gateway.upstreamTimeout * 1000,
      }),
      metrics,
      engines: options.engines,
      logger: options.logger,
      projects:
        config.gateway.chargeProjects && options.projects
          ? new CachedCharges(options.projects, { now: () => Date.now() })
          : undefined,
    };
  }

  /**
   * Register the model and jobs views, the batch routes and the inference routes (with the same
   * handler the fast path runs).
   */
  register(router: Router, routes: RouteTable): void {
    const { config, scheduler, db } = this.options;
    registerModelRoutes(router, routes, { config, scheduler, db });
    if (this.options.batches) {
      registerBatchRoutes(router, routes, {
        ...this.options.batches,
        resolver: this.deps.resolver,
        settings: config.batch,
      });
    }
    for (const route of INFERENCE_ROUTES) {
      routes.add(router, route.spec, async (req, res) => {
        const path = route.byPath
          ? { cluster: String(req.params.cluster), framework: String(req.params.framework) }
          : undefined;
        await this.serve(req, res, route.kind, path, principalOf(res), res.locals.facts as RequestFacts);
      });
    }
  }

  private async serve(
    req: IncomingMessage,
    res: ServerResponse,
    spec: KindSpec,
    path: { cluster: string; framework: string } | undefined,
    principal: Parameters<typeof serveInference>[4],
    facts: RequestFacts,
  ): Promise<void> {
    facts.user = principal.username;
    await serveInference(req, res, spec, path, principal, facts, this.deps);
  }

  /** Serve an inference request directly from the HTTP server; false when it is not one. */
  dispatch(req: IncomingMessage, res: ServerResponse): boolean {
    if (!req.url) return false;
    const query = req.url.indexOf("?");
    const found = this.fast.match(req.method ?? "", query < 0 ? req.url : req.url.slice(0, query));
    if (!found) return false;
    const route: InferenceRoute = found.value;
    const path = route.byPath
      ? { cluster: found.params.cluster as string, framework: found.params.framework as string }
      : undefined;
    const facts = observeRequest(req, res, { logger: this.options.accessLog, metrics: this.options.requestMetrics });
    facts.route = route.spec.path;
    void (async () => {
      try {
        // The peer address (the fast path has no Express `req.ip`): behind a proxy, the proxy's.
        const principal = await admit(this.options.auth, route.spec, req.headers, req.socket.remoteAddress);
        await this.serve(req, res, route.kind, path, principal, facts);
      } catch (error) {
        answerError(res, error, facts, this.options.logger);
        req.resume();
      }
    })();
    return true;
  }

  async close(): Promise<void> {
    this.deps.limits.close();
    await this.deps.upstreams.close();
  }
}
