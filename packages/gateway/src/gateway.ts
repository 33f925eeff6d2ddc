import type { IncomingMessage, ServerResponse } from "node:http";
import { type AuthService, admit, principalOf } from "@switchyard/auth";
import type { SwitchyardConfig } from "@switchyard/core";
import type { EngineAdapterOptions } from "@switchyard/engines";
import { observeRequest, type RequestFacts, type RequestMetrics, type RouteTable } from "@switchyard/http";
import type { Scheduler } from "@switchyard/scheduler";
import { Upstreams } from "@switchyard/upstream";
import type { UsageRecorder } from "@switchyard/usage";
import type { Router } from "express";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { type BatchRouteDeps, registerBatchRoutes } from "./batches";
import { answerError, type GatewayDeps, serveInference } from "./handler";
import { KINDS, type KindSpec, kindForPath } from "./kinds";
import { RateLimits } from "./limits";
import { GatewayMetrics } from "./metrics";
import { ModelResolver } from "./resolve";

export interface GatewayOptions {
  config: SwitchyardConfig;
  scheduler: Scheduler;
  auth: AuthService;
  /** Where each request's usage goes (the process's one recorder, which batches share). */
  usage: UsageRecorder;
  logger: Logger;
  /** The per-request log line's logger. */
  accessLog: Logger;
  registry: Registry;
  requestMetrics: RequestMetrics;
  engines: EngineAdapterOptions;
  redis?: Redis | undefined;
  /** The batch service and file store, for the Files, Batches and reference batch routes. */
  batches?: Pick<BatchRouteDeps, "service" | "files"> | undefined;
}

const RESOURCE_PATH =
  /^\/resource_server\/([^/]+)\/([^/]+)\/v1\/(chat\/completions|completions|embeddings|responses|messages)$/;
const INFERENCE_ACCESS = { access: "user", scope: "inference" } as const;

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/**
 * The OpenAI-compatible front door. Its routes are in the route table like every other (auth
 * guard, 405s, OpenAPI, the 401/403 matrix), and `dispatch` serves the same requests before
 * Express sees them: the inference hot path skips Express's router and middleware stack, which
 * the benchmark showed to cost more than proxying itself.
 */
export class Gateway {
  readonly deps: GatewayDeps;
  private readonly exact = new Map<string, KindSpec>();

  constructor(private readonly options: GatewayOptions) {
    const { config } = options;
    const metrics = new GatewayMetrics(options.registry);
    this.deps = {
      settings: config.gateway,
      scheduler: options.scheduler,
      resolver: new ModelResolver(config, options.scheduler, options.engines),
      limits: new RateLimits(config.gateway.limits, options.redis),
      usage: options.usage,
      upstreams: new Upstreams({
        connections: 256,
        connectTimeoutMs: config.gateway.connectTimeout * 1000,
        timeoutMs: config.gateway.upstreamTimeout * 1000,
      }),
      metrics,
      engines: options.engines,
      logger: options.logger,
    };
    for (const spec of Object.values(KINDS)) this.exact.set(`/v1/${spec.path}`, spec);
  }

  /** Register the inference routes (with the same handler the fast path runs), and the batch routes. */
  register(router: Router, routes: RouteTable): void {
    if (this.options.batches) {
      registerBatchRoutes(router, routes, {
        ...this.options.batches,
        resolver: this.deps.resolver,
        settings: this.options.config.batch,
      });
    }
    for (const spec of Object.values(KINDS)) {
      const summary = `OpenAI-compatible ${spec.label}`;
      routes.add(
        router,
        { method: "POST", path: `/v1/${spec.path}`, ...INFERENCE_ACCESS, summary },
        async (req, res) => {
          await this.serve(req, res, spec, undefined, principalOf(res), res.locals.facts as RequestFacts);
        },
      );
      routes.add(
        router,
        {
          method: "POST",
          path: `/resource_server/:cluster/:framework/v1/${spec.path}`,
          ...INFERENCE_ACCESS,
          summary: `${summary} (reference path)`,
        },
        async (req, res) => {
          const path = { cluster: String(req.params.cluster), framework: String(req.params.framework) };
          await this.serve(req, res, spec, path, principalOf(res), res.locals.facts as RequestFacts);
        },
      );
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
    if (req.method !== "POST" || !req.url) return false;
    const query = req.url.indexOf("?");
    const pathname = query < 0 ? req.url : req.url.slice(0, query);
    let spec = this.exact.get(pathname);
    let path: { cluster: string; framework: string } | undefined;
    let route: string;
    if (spec) {
      route = pathname;
    } else {
      if (!pathname.startsWith("/resource_server/")) return false;
      const match = RESOURCE_PATH.exec(pathname);
      spec = match ? kindForPath(match[3] as string) : undefined;
      if (!match || !spec) return false;
      path = { cluster: safeDecode(match[1] as string), framework: safeDecode(match[2] as string) };
      route = `/resource_server/:cluster/:framework/v1/${spec.path}`;
    }
    const facts = observeRequest(req, res, { logger: this.options.accessLog, metrics: this.options.requestMetrics });
    facts.route = route;
    const chosen = spec;
    void (async () => {
      try {
        const principal = await admit(this.options.auth, INFERENCE_ACCESS, req.headers);
        await this.serve(req, res, chosen, path, principal, facts);
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
