import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { AuthSchema, ManualClock } from "@switchyard/core";
import { openTestDatabase, type TestDatabase, type TestDriver } from "@switchyard/db/testing";
import { createServiceLoggers, errorHandler, notFound, observeRequest, RouteTable } from "@switchyard/http";
import express from "express";
import { Counter, Histogram, Registry } from "prom-client";
import type { RedisLink } from "../src";
import { AuthService, accessGuard, createUser, principalOf, registerAuthRoutes } from "../src";
import { INTROSPECTION_SECRET } from "./oidc-provider";

export interface Harness {
  url: string;
  auth: AuthService;
  db: TestDatabase;
  clock: ManualClock;
  /** What the server's loggers wrote (JSON lines, debug level and up), one request line per request. */
  logs: string[];
  close(): Promise<void>;
}

/**
 * The auth routes on a real HTTP server (port 0) over a real database, with a fake clock, the
 * server's loggers (captured) and three protected routes: any user, admin only, and batch-scoped.
 */
export async function startHarness(
  driver: TestDriver,
  options: {
    settings?: Record<string, unknown>;
    redis?: RedisLink;
    db?: TestDatabase;
    clock?: ManualClock;
    /** Express's `trust proxy`, as `serve` sets it from `http.trustProxy`. */
    trustProxy?: false | number | string[];
  } = {},
): Promise<Harness> {
  const db = options.db ?? (await openTestDatabase(driver));
  const clock = options.clock ?? new ManualClock(Date.now());
  const logs: string[] = [];
  const { logger, access } = createServiceLoggers(
    "debug",
    new Writable({
      write(chunk, _enc, done) {
        logs.push(String(chunk));
        done();
      },
    }),
  );
  const registry = new Registry();
  const metrics = {
    httpRequests: new Counter({
      name: "http_requests_total",
      help: "requests",
      labelNames: ["route", "method", "status"] as const,
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: "http_request_duration_seconds",
      help: "durations",
      labelNames: ["route", "method"] as const,
      registers: [registry],
    }),
  };
  let url = "";
  const auth = await AuthService.create({
    db: db.prisma,
    settings: AuthSchema.parse(options.settings ?? {}),
    clock,
    logger,
    issuer: () => url,
    redis: options.redis,
    env: { OIDC_INTROSPECTION_SECRET: INTROSPECTION_SECRET },
  });
  const app = express();
  app.set("query parser", "simple");
  // The request line as the server writes it: path, status, and the user once authenticated.
  app.use((req, res, next) => {
    const facts = observeRequest(req, res, { logger: access, metrics });
    res.locals.requestId = facts.requestId;
    res.once("finish", () => {
      facts.route = String(res.locals.route ?? "unmatched");
      const principal = res.locals.principal as { username?: string } | undefined;
      if (principal?.username) facts.user = principal.username;
    });
    next();
  });
  app.set("trust proxy", options.trustProxy ?? false);
  const router = express.Router();
  const routes = new RouteTable(accessGuard(auth));
  registerAuthRoutes(router, routes, auth);
  routes.add(router, { method: "GET", path: "/v1/protected", access: "user", summary: "any user" }, (_req, res) => {
    res.json({ user: principalOf(res).username });
  });
  routes.add(
    router,
    { method: "GET", path: "/admin/thing", access: "admin", scope: "admin", summary: "admins" },
    (_req, res) => {
      res.json({ ok: true });
    },
  );
  routes.add(
    router,
    { method: "POST", path: "/v1/batch-thing", access: "user", scope: "batch", summary: "batch scope" },
    (_req, res) => {
      res.json({ ok: true });
    },
  );
  app.use(router);
  app.use(notFound(routes));
  app.use(errorHandler(logger));
  const server: Server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    auth,
    db,
    clock,
    logs,
    async close() {
      await new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
      await auth.close();
      if (!options.db) await db.close();
    },
  };
}

export const PASSWORD = "correct horse battery";

export async function addUser(h: Harness, username: string, opts: { admin?: boolean; groups?: string[] } = {}) {
  return createUser(h.db.prisma, {
    username,
    password: PASSWORD,
    role: opts.admin ? "admin" : "user",
    groups: opts.groups ?? [],
  });
}

export async function post(url: string, params: Record<string, string>, asJson = false) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": asJson ? "application/json" : "application/x-www-form-urlencoded" },
    body: asJson ? JSON.stringify(params) : new URLSearchParams(params),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

export async function passwordGrant(h: Harness, username: string, password = PASSWORD) {
  return post(`${h.url}/auth/token`, { grant_type: "password", username, password, client_id: "sy-cli" });
}

export async function call(h: Harness, path: string, token: string | undefined, init: RequestInit = {}) {
  const res = await fetch(`${h.url}${path}`, {
    ...init,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers ?? {}) },
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, any>) : {} };
}
