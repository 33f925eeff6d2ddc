import type { IncomingMessage, ServerResponse } from "node:http";
import type { Principal } from "@switchyard/auth";
import { apiError, type GatewaySettings, parseOrThrow, renderError, SwitchyardError } from "@switchyard/core";
import type { EngineAdapterOptions } from "@switchyard/engines";
import { type RequestFacts, sendError } from "@switchyard/http";
import type { Replica, ReplicaFailure, Scheduler } from "@switchyard/scheduler";
import {
  BufferedExchange,
  classifyFailure,
  type Failure,
  mayRetry,
  modelServerHeaders,
  parseUpstreamError,
  type RetryPolicy,
  type Upstreams,
} from "@switchyard/upstream";
import { type CachedCharges, type UsageSink, usageFromBuffer, usageNamesOf } from "@switchyard/usage";
import type { Logger } from "pino";
import { account, type Outcome } from "./account";
import { parseJson, readBody } from "./body";
import { promptEstimate, tokenEstimate } from "./estimate";
import { holdFor, notReady } from "./hold";
import type { KindSpec } from "./kinds";
import type { Charge, Limits } from "./limits";
import type { GatewayMetrics } from "./metrics";
import type { ModelResolver, Target } from "./resolve";
import { StreamingExchange } from "./streaming";

/** What the request path asks the scheduler: a replica, or the model's state and a start. */
export type ReplicaSource = Pick<
  Scheduler,
  "acquire" | "availability" | "ensureLive" | "clusterProblem" | "reportFailure" | "reportSuccess" | "holdDemand"
>;

export interface GatewayDeps {
  settings: GatewaySettings;
  scheduler: ReplicaSource;
  resolver: ModelResolver;
  limits: Limits;
  usage: UsageSink;
  upstreams: Upstreams;
  metrics: GatewayMetrics;
  engines: EngineAdapterOptions;
  logger: Logger;
  /** Set when interactive requests are charged to projects (`gateway.chargeProjects`). */
  projects?: CachedCharges | undefined;
}

/**
 * A request whose connection failed before any byte reached the client is sent once more, at
 * once, to the replica the scheduler gives next (the failed one is out of its rotation by
 * then), or held like a cold request until one is live.
 */
const RETRY: RetryPolicy = { retries: 1, retryOn: ["unreachable"], baseDelayMs: 0, maxDelayMs: 0 };

const isTimeout = (error: unknown) => classifyFailure(error).kind === "timeout";

/** The failures that say something about the replica itself, which the scheduler hears of. */
function replicaFailure(failure: Failure): ReplicaFailure | undefined {
  return failure.kind === "timeout" || failure.kind === "unreachable" ? failure.kind : undefined;
}

/** A model server's own 4xx: passed on as it is when already OpenAI-shaped, else wrapped. */
function upstreamClientError(status: number, text: string, model: string): SwitchyardError | { raw: string } {
  const said = parseUpstreamError(text);
  if (said?.openAiShaped) return { raw: text };
  const detail = said?.message ?? (text.slice(0, 500) || `HTTP ${status}`);
  return apiError("model_server_rejected", { model, detail }, { status });
}

/**
 * One inference request, end to end: body (10 MB cap, nesting depth), JSON, validation, model,
 * access, capabilities, the request's worst-case tokens, and the payload to send: everything
 * that can fail on what the client sent happens before anything is held. Then the user's
 * in-flight slot, the token budgets, a live replica (or the cold-start hold) and the proxy,
 * all given back in one `finally`.
 */
export async function serveInference(
  req: IncomingMessage,
  res: ServerResponse,
  spec: KindSpec,
  path: { cluster: string; framework: string } | undefined,
  principal: Principal,
  facts: RequestFacts,
  deps: GatewayDeps,
): Promise<void> {
  const started = performance.now();
  const { settings } = deps;
  const body = await readBody(req, settings.maxBodyBytes);
  const parsed = parseJson(body, settings.maxJsonDepth);
  const request = parseOrThrow(spec.schema, parsed) as Record<string, unknown> & {
    model: string;
    stream?: boolean | null;
  };
  const target = deps.resolver.resolve(request.model, path);
  facts.model = target.model.id;
  deps.resolver.authorize(principal, target);
  deps.resolver.checkCapabilities(spec, request, target, principal);
  const problem = deps.scheduler.clusterProblem(target.cluster);
  if (problem)
    throw apiError("cluster_unavailable", {
      cluster: target.cluster.name,
      reason: problem.replace(/^cluster \S+ is /, ""),
    });
  const estimate = tokenEstimate(spec.kind, request, body.length, target.model.contextLength, settings.limits);

  const stream = spec.streams && request.stream === true;
  // Ask for usage in streams the client did not ask it for (to account for it), and send the
  // server the model name it knows; otherwise forward the client's own bytes untouched.
  const upstreamName = target.upstreamName;
  const streamOptions = request.stream_options as { include_usage?: boolean } | null | undefined;
  const injectUsage =
    stream && (spec.kind === "chat" || spec.kind === "completions") && streamOptions?.include_usage !== true;
  const renamed = request.model !== upstreamName;
  const payload =
    injectUsage || renamed
      ? Buffer.from(
          JSON.stringify({
            ...(parsed as object),
            model: upstreamName,
            ...(injectUsage ? { stream_options: { ...(streamOptions ?? {}), include_usage: true } } : {}),
          }),
        )
      : body;

  // The project, when interactive use is charged: refused (403/429/400) before anything is sent.
  const project = deps.projects
    ? await deps.projects.chargeFor(principal.userId, projectHeader(req), target.model.id)
    : undefined;
  const user = { id: principal.userId, groups: principal.groups };
  // Named when its request starts a cold model (the audit log says who started what).
  const requester = { userId: principal.userId, username: principal.username, via: principal.via };
  const entered = deps.limits.enter(user);
  const lease = typeof entered === "object" ? await entered : entered;
  let charge: Charge | undefined;
  let replica: Replica | undefined;
  let leaveGauge: (() => void) | undefined;
  let outcome: Outcome = { status: 0, usage: undefined, ttftMs: null };
  try {
    charge = await deps.limits.charge(user, target.model.id, estimate);
    for (const [name, value] of Object.entries(charge.headers)) res.setHeader(name, value);
    if (target.reroutedFrom) res.setHeader("x-switchyard-routed-framework", target.model.framework);

    const gone = () => res.destroyed && !res.writableFinished;
    replica = deps.scheduler.acquire(target.cluster.name, target.model.id);
    if (!replica) {
      // Cold: start it and hold the request (up to holdSeconds) rather than fail at once.
      const held = await holdFor(deps, target, gone, requester);
      if (!held.replica) throw notReady(target, held.availability);
      replica = held.replica;
    }

    leaveGauge = deps.metrics.enter(target.model.id);
    const promptGuess = promptEstimate(body.length);
    for (let attempt = 0; ; attempt++) {
      try {
        outcome = await proxy(
          req,
          res,
          spec,
          target,
          replica,
          payload,
          stream,
          injectUsage,
          promptGuess,
          started,
          deps,
          facts,
        );
        if (outcome.failure) deps.scheduler.reportFailure(replica.deploymentId, outcome.failure);
        else deps.scheduler.reportSuccess(replica.deploymentId);
        break;
      } catch (error) {
        const failure = classifyFailure(error);
        const ofReplica = replicaFailure(failure);
        if (ofReplica) deps.scheduler.reportFailure(replica.deploymentId, ofReplica);
        if (!res.headersSent && !res.destroyed && mayRetry(RETRY, failure, attempt)) {
          // Its server is gone (or was never there): another live replica at once, or hold
          // the request as a cold one is held while the scheduler brings one back.
          replica.release();
          replica = deps.scheduler.acquire(target.cluster.name, target.model.id);
          if (!replica) {
            const held = await holdFor(deps, target, gone, requester);
            if (!held.replica) throw notReady(target, held.availability);
            replica = held.replica;
          }
          continue;
        }
        throw error;
      }
    }
  } catch (error) {
    // Refusals before the proxy (limits, the cold-start hold) are answered as they are.
    if (!leaveGauge) throw error;
    if (res.destroyed && !res.writableFinished) {
      outcome = { status: 499, usage: outcome.usage, ttftMs: outcome.ttftMs };
    } else {
      const failure =
        error instanceof SwitchyardError
          ? error
          : isTimeout(error)
            ? apiError(
                "upstream_timeout",
                { model: target.model.id, timeout: `${settings.upstreamTimeout} s` },
                { cause: error },
              )
            : apiError(
                "upstream_error",
                { model: target.model.id, detail: (error as Error).message || "connection failed" },
                { cause: error },
              );
      outcome.status = failure.status;
      throw failure;
    }
  } finally {
    deps.limits.leave(user, lease);
    replica?.release();
    if (leaveGauge) {
      leaveGauge();
      account(
        deps,
        spec,
        target,
        principal,
        facts,
        res,
        charge as Charge,
        outcome,
        stream,
        body.length,
        started,
        project?.projectId ?? null,
      );
    } else if (charge) {
      void deps.limits.settle(charge, 0).catch(() => {}); // it never reached the model
    }
  }
}

/** The project an interactive request names (`X-Switchyard-Project`), if any. */
function projectHeader(req: IncomingMessage): string | undefined {
  const value = req.headers["x-switchyard-project"];
  return typeof value === "string" && value.length > 0 ? value : undefined;
}

const JSON_HEADERS = { "content-type": "application/json" };

async function proxy(
  req: IncomingMessage,
  res: ServerResponse,
  spec: KindSpec,
  target: Target,
  replica: { baseUrl: string; authorization?: string },
  payload: Buffer,
  stream: boolean,
  stripUsage: boolean,
  promptGuess: number,
  started: number,
  deps: GatewayDeps,
  facts: RequestFacts,
): Promise<Outcome> {
  const exchange = stream
    ? new StreamingExchange(started, res, spec.kind, stripUsage, promptGuess)
    : new BufferedExchange(started);
  const onClose = () => {
    if (!res.writableFinished) exchange.abort(new Error("the client went away"));
  };
  res.once("close", onClose);
  try {
    deps.upstreams.pool(replica.baseUrl).dispatch(
      {
        path: spec.upstreamPath,
        method: "POST",
        headers: modelServerHeaders(
          facts.requestId,
          replica.authorization,
          payload.length,
          stream ? "text/event-stream" : "application/json",
        ),
        body: payload,
      },
      exchange,
    );
    try {
      await exchange.done;
    } catch (error) {
      if (exchange instanceof StreamingExchange && exchange.started200) {
        // Tokens already streamed are charged whoever ended the stream.
        const used = exchange.usedSoFar;
        if (res.destroyed || res.writableEnded) {
          return { status: res.writableFinished ? 200 : 499, usage: used, ttftMs: exchange.firstByteAt };
        }
        // The stream already started: end it with an error event the client can see.
        const failure = isTimeout(error)
          ? apiError("upstream_timeout", { model: target.model.id, timeout: `${deps.settings.upstreamTimeout} s` })
          : apiError("upstream_error", {
              model: target.model.id,
              detail: (error as Error).message || "the stream broke",
            });
        res.write(`data: ${JSON.stringify(renderError(failure).body)}\n\n`);
        res.end();
        deps.logger.warn({ requestId: facts.requestId, err: error }, "upstream failed mid-stream");
        return {
          status: failure.status,
          usage: used,
          ttftMs: exchange.firstByteAt,
          failure: replicaFailure(classifyFailure(error)),
        };
      }
      throw error;
    }
    const { status } = exchange;
    if (status !== 200) {
      const text = (exchange instanceof StreamingExchange ? exchange.errorBody : exchange.body).toString("utf8");
      if (status >= 500) {
        throw apiError("upstream_error", { model: target.model.id, detail: `HTTP ${status}: ${text.slice(0, 300)}` });
      }
      const rejected = upstreamClientError(status, text, target.model.id);
      if (rejected instanceof SwitchyardError) throw rejected;
      res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(rejected.raw) });
      res.end(rejected.raw);
      return { status, usage: undefined, ttftMs: null };
    }
    if (exchange instanceof StreamingExchange)
      return { status: 200, usage: exchange.usage, ttftMs: exchange.firstByteAt };
    const answer = exchange.body;
    res.writeHead(200, JSON_HEADERS);
    res.end(answer);
    return {
      status: 200,
      usage: usageFromBuffer(answer, usageNamesOf(spec.upstreamPath)),
      ttftMs: exchange.firstByteAt,
    };
  } finally {
    res.off("close", onClose);
    if (!req.readableEnded) req.resume();
  }
}

/** Errors in the fast path are rendered exactly as the Express error middleware would. */
export function answerError(res: ServerResponse, error: unknown, facts: RequestFacts, logger: Logger): void {
  if (error instanceof SwitchyardError) {
    sendError(res, error);
    return;
  }
  logger.error({ err: error, requestId: facts.requestId }, "unhandled error");
  sendError(res, new SwitchyardError("internal_error", { requestId: facts.requestId }, { cause: error }));
}
