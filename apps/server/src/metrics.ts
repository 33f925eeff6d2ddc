import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { MetricsSettings } from "@switchyard/core";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** One registry per process context (not prom-client's global), so tests can run several servers. */
export interface Metrics {
  registry: Registry;
  httpRequests: Counter<"route" | "method" | "status">;
  httpDuration: Histogram<"route" | "method">;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  // Unprefixed (process_*, nodejs_*): the names stock Node.js dashboards and alerts query.
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpRequests: new Counter({
      name: "switchyard_http_requests_total",
      help: "HTTP requests by route pattern, method and status",
      labelNames: ["route", "method", "status"],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: "switchyard_http_request_duration_seconds",
      help: "HTTP request duration by route pattern",
      labelNames: ["route", "method"],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers: [registry],
    }),
  };
}

/** How often `switchyard_database_up` pings the database once it is scraped. */
export const DATABASE_PING_INTERVAL_MS = 5000;
/** How long one of those pings may take before it counts as "down". */
export const DATABASE_PING_TIMEOUT_MS = 1000;

/**
 * `switchyard_database_up`: 1 while the database answers a ping, 0 while it does not (the
 * "database down" alert reads it). A scrape never waits on the database: it reports the answer
 * of the last ping. The first scrape starts pinging in the background, every `intervalMs`, each
 * ping giving up after `timeoutMs` and none starting while one is still out; so however many
 * scrapers ask and however often, the database sees at most one ping per interval, and a hung
 * database turns the gauge to 0 within an interval and a timeout. Until the first answer the
 * gauge says 1 (the process opened and migrated the database as it started). Returns the stop,
 * for the process's close.
 */
export function registerDatabaseUp(
  registry: Registry,
  ping: (timeoutMs: number) => Promise<boolean>,
  options: { intervalMs?: number; timeoutMs?: number } = {},
): () => void {
  const intervalMs = options.intervalMs ?? DATABASE_PING_INTERVAL_MS;
  const timeoutMs = options.timeoutMs ?? DATABASE_PING_TIMEOUT_MS;
  let up = true;
  let pinging = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const check = () => {
    if (pinging || stopped) return;
    pinging = true;
    void ping(timeoutMs)
      .catch(() => false)
      .then((answer) => {
        pinging = false;
        if (!stopped) up = answer;
      });
  };
  new Gauge({
    name: "switchyard_database_up",
    help: "1 while the database answers a ping, 0 while it does not",
    registers: [registry],
    // Summed over `serve --workers N`'s processes: 0 when any of them cannot reach it.
    aggregator: "min",
    collect() {
      if (timer === undefined && !stopped) {
        check();
        // The process's other work keeps it alive, not this.
        timer = setInterval(check, intervalMs).unref();
      }
      this.set(up ? 1 : 0);
    },
  });
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

/** The scrape token: the value of the environment variable `metrics.tokenEnv` names, when set. */
export function scrapeToken(settings: MetricsSettings, env: NodeJS.ProcessEnv): string | undefined {
  const token = env[settings.tokenEnv]?.trim();
  return token ? token : undefined;
}

const digest = (text: string) => createHash("sha256").update(text).digest();

/** Whether an Authorization header carries the scrape token (compared in constant time). */
export function carriesScrapeToken(authorization: string | undefined, token: string): boolean {
  if (!authorization || !/^bearer /i.test(authorization)) return false;
  return timingSafeEqual(digest(authorization.slice(7).trim()), digest(token));
}

export interface ScrapeListener {
  url: string;
  close(): Promise<void>;
}

/** A probe's status and JSON body (`/health`, `/ready`). */
type Probe = () => Promise<{ status: number; body: object }>;

/**
 * `GET /metrics` (and the probes `/health` and `/ready` when given) on an address of its own, for
 * a scraper on a network users do not reach, or as the only HTTP of an instance without the
 * gateway; the scrape token is required for /metrics when one is set.
 */
export async function listenForScrapes(options: {
  host: string;
  port: number;
  registry: Registry;
  token: string | undefined;
  probes?: { health: Probe; ready: Probe };
}): Promise<ScrapeListener> {
  const answer = (res: ServerResponse, probe: Probe) =>
    void probe().then(
      ({ status, body }) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body)),
      () => res.writeHead(500).end(),
    );
  const server: Server = createServer((req, res) => {
    const path = req.url?.split("?")[0];
    if (req.method === "GET" && path === "/metrics") {
      if (options.token && !carriesScrapeToken(req.headers.authorization, options.token)) {
        res.writeHead(401, { "www-authenticate": 'Bearer realm="metrics"' }).end();
        return;
      }
      void options.registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": options.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    } else if (req.method === "GET" && path === "/health" && options.probes) {
      answer(res, options.probes.health);
    } else if (req.method === "GET" && path === "/ready" && options.probes) {
      answer(res, options.probes.ready);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host.includes(":") ? `[${options.host}]` : options.host}:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** `host:port` (IPv6 hosts in brackets) as the config's `metrics.listen` gives it. */
export function parseListen(listen: string): { host: string; port: number } {
  const colon = listen.lastIndexOf(":");
  return { host: listen.slice(0, colon).replace(/^\[(.*)\]$/, "$1"), port: Number(listen.slice(colon + 1)) };
}
