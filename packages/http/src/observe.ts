import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { Counter, Histogram } from "prom-client";

export interface RequestMetrics {
  httpRequests: Counter<"route" | "method" | "status">;
  httpDuration: Histogram<"route" | "method">;
}

/** Per-request facts the handlers fill in and the one log line reports. */
export interface RequestFacts {
  requestId: string;
  route?: string;
  user?: string;
  model?: string;
  /** Extra fields for the request's log line (tokens, deployment, ...). */
  log?: Record<string, unknown>;
}

const SANE_ID = /^[\w.:-]{1,128}$/;

/** Label children looked up once per label set (prom-client otherwise hashes labels per call). */
const counters = new WeakMap<object, Map<string, { inc(): void }>>();
const histograms = new WeakMap<object, Map<string, { observe(value: number): void }>>();

function cached<T>(store: WeakMap<object, Map<string, T>>, owner: object, key: string, make: () => T): T {
  let byLabels = store.get(owner);
  if (!byLabels) {
    byLabels = new Map();
    store.set(owner, byLabels);
  }
  let child = byLabels.get(key);
  if (!child) {
    child = make();
    byLabels.set(key, child);
  }
  return child;
}

function counterFor(metrics: RequestMetrics, route: string, method: string, status: string) {
  return cached(counters, metrics.httpRequests, `${route} ${method} ${status}`, () =>
    metrics.httpRequests.labels(route, method, status),
  );
}

function histogramFor(metrics: RequestMetrics, route: string, method: string) {
  return cached(histograms, metrics.httpDuration, `${route} ${method}`, () =>
    metrics.httpDuration.labels(route, method),
  );
}

/**
 * Start observing a request: take the caller's `x-request-id` (when sane) or make one, return
 * it, and when the response finishes write one log line and the HTTP metrics. Used by the
 * Express middleware and by the gateway's fast path, so both log and count alike.
 */
export function observeRequest(
  req: IncomingMessage,
  res: ServerResponse,
  deps: { logger: Logger; metrics: RequestMetrics },
): RequestFacts {
  const given = req.headers["x-request-id"];
  const facts: RequestFacts = { requestId: typeof given === "string" && SANE_ID.test(given) ? given : randomUUID() };
  res.setHeader("x-request-id", facts.requestId);
  const start = process.hrtime.bigint();
  res.once("close", () => {
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const route = facts.route ?? "unmatched";
    const status = res.writableFinished ? res.statusCode : 499; // 499: the client went away first
    counterFor(deps.metrics, route, req.method ?? "?", String(status)).inc();
    histogramFor(deps.metrics, route, req.method ?? "?").observe(seconds);
    deps.logger.info(
      {
        requestId: facts.requestId,
        method: req.method,
        path: req.url?.split("?")[0],
        status,
        ms: Math.round(seconds * 1e4) / 10,
        ...(facts.user ? { user: facts.user } : {}),
        ...(facts.model ? { model: facts.model } : {}),
        ...facts.log,
      },
      "request",
    );
  });
  return facts;
}
