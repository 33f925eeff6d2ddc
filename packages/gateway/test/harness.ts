import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { AuthService, accessGuard, createApiKey, createUser, RedisLink } from "@switchyard/auth";
import { BatchService, FileStore } from "@switchyard/batch";
import { type Clock, type SwitchyardConfig, type SwitchyardConfigInput, validateConfig } from "@switchyard/core";
import { syncCatalog } from "@switchyard/db";
import { openTestDatabase, type TestDatabase, type TestDriver } from "@switchyard/db/testing";
import { errorHandler, notFound, observeRequest, RouteTable } from "@switchyard/http";
import { LocalLauncher, Scheduler } from "@switchyard/scheduler";
import { Projects, UsageRecorder } from "@switchyard/usage";
import express from "express";
import OpenAI from "openai";
import { pino } from "pino";
import { Counter, Histogram, Registry } from "prom-client";
import { Gateway } from "../src";

/** The switchyard binary runs the simulator; a test-only path into apps/server, as the scheduler's tests use. */
const SWITCHYARD_BIN = fileURLToPath(new URL("../../../apps/server/bin/switchyard-source.mjs", import.meta.url));

/**
 * The lab the gateway's own tests run against: simulators (real processes) for a paced chat
 * model with a context window, a fast one without, an embedding model and a cold dynamic one.
 */
export function gatewayTestConfig(
  gateway: SwitchyardConfigInput["gateway"] = {},
  batch: SwitchyardConfigInput["batch"] = {},
): SwitchyardConfig {
  const sim = { type: "simulator" as const, loadTime: "100ms", profile: "fast" as const };
  const result = validateConfig({
    batch,
    scheduler: { tickInterval: "100ms", busyWindow: 0, minStartTimeout: "30s", stopGrace: "2s" },
    gateway: { holdSeconds: 20, ...gateway },
    clusters: [
      {
        name: "lab",
        nodes: [
          { name: "hot-1", gpus: 4, role: "hot" },
          { name: "rot-1", gpus: 4, role: "rotating" },
        ],
        frameworks: ["vllm", "infinity"],
      },
    ],
    models: [
      {
        id: "org/chat",
        cluster: "lab",
        framework: "vllm",
        capabilities: ["chat", "completions"],
        placement: "hot",
        node: "hot-1",
        contextLength: 8192,
        engine: { type: "simulator", loadTime: "100ms", timeToFirstToken: "10ms", tokensPerSecond: 100 },
      },
      {
        id: "org/fast",
        cluster: "lab",
        framework: "vllm",
        capabilities: ["chat", "completions", "batch"],
        placement: "hot",
        node: "hot-1",
        engine: sim,
      },
      {
        id: "org/embed",
        cluster: "lab",
        framework: "infinity",
        capabilities: ["embedding"],
        placement: "hot",
        node: "hot-1",
        engine: { ...sim, embeddingDimensions: 8 },
      },
      {
        id: "org/cold",
        cluster: "lab",
        framework: "vllm",
        capabilities: ["chat"],
        placement: "dynamic",
        engine: sim,
      },
    ],
  });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.config;
}

export interface GatewayHarness {
  url: string;
  config: SwitchyardConfig;
  gateway: Gateway;
  scheduler: Scheduler;
  db: TestDatabase;
  /** The API key of `mallory`, an ordinary user. */
  key: string;
  /** An OpenAI client for mallory on the plain /v1 base URL. */
  client: OpenAI;
  /** With `batches`: the Files and Batches routes' store and service (no worker runs), and the files directory. */
  files: FileStore | undefined;
  batches: BatchService | undefined;
  filesDir: string;
  /** Every log line (the gateway's logger and the access log), as JSON text. */
  logs: string[];
  userId: string;
  /** Mallory's requests in flight as the gateway counts them. */
  inFlight(): number;
  /** The requests the scheduler counts in flight on the model's replicas. */
  replicaInFlight(model: string): number;
  /** Another ordinary user (fresh budgets), with an API key and a client. */
  addUser(username: string): Promise<{ userId: string; key: string; client: OpenAI }>;
  /** A user's usage rows written so far, oldest first (flushes the recorder first); default mallory's. */
  usageRows(
    userId?: string,
  ): Promise<{ status: number; promptTokens: number; completionTokens: number; stream: boolean }[]>;
  close(): Promise<void>;
}

/**
 * A gateway served the way `switchyard serve` serves it (the fast path first, then Express with
 * the route table's access guard), on an ephemeral port, with an in-memory database (or `driver`'s).
 */
export async function startGatewayHarness(
  options: {
    gateway?: SwitchyardConfigInput["gateway"];
    /** The database: the embedded one (default) or a fresh database on the test PostgreSQL. */
    driver?: TestDriver;
    redisUrl?: string;
    waitFor?: string[];
    /** Serve the Files and Batches routes (as `serve` wires them, without a worker), with these settings and clock. */
    batches?: { settings?: SwitchyardConfigInput["batch"]; clock?: Clock };
  } = {},
): Promise<GatewayHarness> {
  const dir = mkdtempSync(path.join(tmpdir(), "sy-gw-"));
  const config = gatewayTestConfig(options.gateway, options.batches?.settings);
  const db = await openTestDatabase(options.driver ?? "pglite");
  await syncCatalog(db.prisma, config);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  });
  const logger = pino({ level: "debug" }, sink);
  const clock = { now: () => Date.now() };
  const redis = options.redisUrl ? await RedisLink.connect(options.redisUrl, { logger }) : undefined;
  const auth = await AuthService.create({
    db: db.prisma,
    settings: config.auth,
    clock,
    logger,
    issuer: () => "http://switchyard.test",
  });
  const engines = { switchyardBin: SWITCHYARD_BIN, loadTimeScale: 1 };
  const registry = new Registry();
  const scheduler = new Scheduler({
    db,
    config,
    clock,
    logger,
    launchers: new Map([
      ["lab", new LocalLauncher({ logDir: path.join(dir, "logs"), engines, stopGraceMs: 2000, logger })],
    ]),
    engines,
    registry,
    autoTick: true,
  });
  await scheduler.start();
  const filesDir = path.join(dir, "files");
  let batches: { service: BatchService; files: FileStore } | undefined;
  if (options.batches) {
    const batchClock = options.batches.clock ?? clock;
    const files = new FileStore(db.prisma, filesDir, batchClock, config.batch);
    const service = new BatchService({
      db,
      settings: config.batch,
      files,
      clock: batchClock,
      allowedDirs: () => [filesDir],
    });
    batches = { service, files };
  }
  const requestMetrics = {
    httpRequests: new Counter({
      name: "http_requests_total",
      help: "HTTP requests",
      labelNames: ["route", "method", "status"] as const,
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: "http_duration_seconds",
      help: "HTTP request duration",
      labelNames: ["route", "method"] as const,
      registers: [registry],
    }),
  };
  const usage = new UsageRecorder(db, logger, { registry });
  usage.start();
  const gateway = new Gateway({
    config,
    scheduler,
    auth,
    db,
    usage,
    logger,
    accessLog: logger,
    registry,
    requestMetrics,
    engines,
    redis,
    batches,
    projects: new Projects(db, clock),
  });
  const routes = new RouteTable(accessGuard(auth));
  const router = express.Router();
  gateway.register(router, routes);
  const app = express();
  // One access line per request, as the server's request context writes it.
  app.use((req, res, next) => {
    const facts = observeRequest(req, res, { logger, metrics: requestMetrics });
    res.locals.requestId = facts.requestId;
    res.locals.facts = facts;
    res.once("finish", () => {
      facts.route = String(res.locals.route ?? "unmatched");
    });
    next();
  });
  app.use(router);
  app.use(notFound(routes));
  app.use(errorHandler(logger));
  const server: Server = createServer((req, res) => {
    if (!gateway.dispatch(req, res)) app(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const clientFor = (apiKey: string) => new OpenAI({ apiKey, baseURL: `${url}/v1`, maxRetries: 0, timeout: 60_000 });
  const user = await createUser(db.prisma, { username: "mallory", password: "mallory-password" });
  const { key } = await createApiKey(db.prisma, { userId: user.id });
  const wanted = options.waitFor ?? ["org/chat", "org/fast"];
  const deadline = Date.now() + 60_000;
  while (!wanted.every((m) => scheduler.availability("lab", m).status === "live")) {
    if (Date.now() > deadline) throw new Error(`models not live in time: ${wanted.join(", ")}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    config,
    gateway,
    scheduler,
    db,
    key,
    userId: user.id,
    files: batches?.files,
    batches: batches?.service,
    filesDir,
    client: clientFor(key),
    logs,
    inFlight: () => gateway.deps.limits.inFlightOf(user.id),
    replicaInFlight(model) {
      return scheduler
        .deployments()
        .filter((deployment) => scheduler.modelOf(deployment)?.id === model)
        .reduce((sum, deployment) => sum + scheduler.inflightOf(deployment.id), 0);
    },
    async addUser(username) {
      const added = await createUser(db.prisma, { username, password: `${username}-password` });
      const created = await createApiKey(db.prisma, { userId: added.id });
      return { userId: added.id, key: created.key, client: clientFor(created.key) };
    },
    async usageRows(userId = user.id) {
      await usage.flush();
      return db.prisma.usageRecord.findMany({
        where: { userId },
        orderBy: { at: "asc" },
        select: { status: true, promptTokens: true, completionTokens: true, stream: true },
      });
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await gateway.close();
      await usage.stop();
      await scheduler.close();
      await auth.close();
      await redis?.close();
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
