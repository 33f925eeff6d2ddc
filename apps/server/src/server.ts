import { mkdir } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { AuthService, ensureBootstrapAdmin } from "@switchyard/auth";
import { allowedDirsFor, BatchMetrics, BatchService, BatchWorker, FileCleanup, FileStore } from "@switchyard/batch";
import { type Clock, systemClock } from "@switchyard/core";
import { databaseOptions, openDatabase, syncCatalog } from "@switchyard/db";
import { Gateway } from "@switchyard/gateway";
import type { RouteTable } from "@switchyard/http";
import { Scheduler } from "@switchyard/scheduler";
import type { Redis } from "ioredis";
import { batchUsageSink } from "./batch-usage";
import { loadConfig } from "./config";
import { type AppContext, buildContext } from "./context";
import { Dashboard, DEFAULT_DASHBOARD_DIR } from "./dashboard";
import { ListenError } from "./errors";
import { createApp } from "./http/app";
import { createLaunchers, engineOptions } from "./launchers";
import { createLoggers, type Logger } from "./logger";
import { createMetrics, listenForScrapes, parseListen, scrapeToken } from "./metrics";
import { connectRedis } from "./redis";

export interface ServeOptions {
  port: number;
  host: string;
  dataDir: string;
  /** Config file; otherwise SWITCHYARD_CONFIG, otherwise the built-in catalog. */
  configFile?: string | undefined;
  /** PostgreSQL URL; otherwise DATABASE_URL, otherwise embedded PGlite in the data dir. */
  databaseUrl?: string | undefined;
  /** Redis URL; otherwise REDIS_URL, otherwise in-memory shared state. */
  redisUrl?: string | undefined;
  /** Use an in-memory PGlite instead of the data dir (tests). */
  inMemoryDatabase?: boolean;
  /** Run the batch worker in this process (default: the config's `batch.runInServe`). */
  batchWorker?: boolean;
  /** Run the scheduler's loop on its timer (default); tests that drive it call `ctx.scheduler.tick()`. */
  schedulerAutoTick?: boolean;
  /** One logger for everything (tests); by default a buffered JSON (or pretty) logger pair. */
  logger?: Logger;
  clock?: Clock;
  env?: NodeJS.ProcessEnv;
  /** The dashboard's built files; default apps/admin/dist of this checkout. */
  dashboardDir?: string;
  /** Build the dashboard in the background when its files are missing or older than its sources (`serve` does). */
  buildDashboard?: boolean;
  /** Told once when the first start creates the `admin` user (the password is shown only then). */
  onAdminCreated?: (admin: { username: string; password: string; generated: boolean }) => void;
}

export interface RunningServer {
  url: string;
  port: number;
  ctx: AppContext;
  server: Server;
  /** Every route the server has (the auth matrix and OpenAPI walk it). */
  routes: RouteTable;
  dashboard: Dashboard;
  /** `/metrics` on its own address, when `metrics.listen` asks for one. */
  metricsUrl: string | undefined;
  /** Stop accepting, finish in-flight requests (up to a grace period), close the database. */
  close(): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const reason =
        error.code === "EADDRINUSE"
          ? "is already in use; pick another with --port"
          : error.code === "EACCES"
            ? "needs privileges; pick a port above 1023 with --port"
            : error.code === "EADDRNOTAVAIL"
              ? "is not an address of this machine; check --host"
              : `cannot be opened (${error.code ?? error.message})`;
      reject(new ListenError(`${host}:${port} ${reason}`, { cause: error }));
    };
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

/** Migrate, build the context, start HTTP. Used by `switchyard serve` and by tests (port 0). */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const env = options.env ?? process.env;
  const loggers = options.logger
    ? { logger: options.logger, access: options.logger, flush: async () => options.logger?.flush() }
    : createLoggers();
  const { logger } = loggers;
  const began = Date.now();
  const { config, source } = await loadConfig(options.configFile, env);
  const databaseUrl = options.databaseUrl ?? env.DATABASE_URL;
  const redisUrl = options.redisUrl ?? env.REDIS_URL;
  const cleanup: (() => Promise<unknown>)[] = [];
  const closeAll = async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
  };

  const db = await openDatabase(
    options.inMemoryDatabase
      ? { driver: "pglite" }
      : databaseOptions({ dataDir: options.dataDir, databaseUrl, command: "switchyard serve" }),
  );
  cleanup.push(() => db.close());
  try {
    const report = await db.migrate();
    for (const name of report.modified) {
      logger.warn({ migration: name }, "an applied migration's file changed since it was applied");
    }
    await syncCatalog(db.prisma, config);

    let redis: Redis | undefined;
    if (redisUrl) {
      redis = await connectRedis(redisUrl);
      redis.on("error", (error) => logger.warn({ err: error }, "Redis connection error"));
      const connected = redis;
      cleanup.push(() => connected.quit());
    }

    let publicUrl: string | undefined;
    const clock = options.clock;
    const auth = await AuthService.create({
      db: db.prisma,
      settings: config.auth,
      clock: clock ?? { now: () => Date.now() },
      logger,
      issuer: () => (config.auth.issuer ?? publicUrl ?? "http://switchyard.invalid").replace(/\/$/, ""),
      redis,
      env,
    });
    cleanup.push(() => auth.close());
    const admin = await ensureBootstrapAdmin(db.prisma, env.SWITCHYARD_ADMIN_PASSWORD);
    if (admin) {
      logger.info({ username: admin.username, passwordGenerated: admin.generated }, "created the first admin user");
      options.onAdminCreated?.(admin);
    }

    const metrics = createMetrics();
    const scheduler = new Scheduler({
      db,
      config,
      clock: clock ?? { now: () => Date.now() },
      logger: logger.child({ component: "scheduler" }),
      launchers: createLaunchers(config, options.dataDir, logger),
      engines: engineOptions(config),
      registry: metrics.registry,
      autoTick: options.schedulerAutoTick ?? true,
      env,
    });
    await scheduler.start();
    cleanup.push(() => scheduler.close());
    // Batches: uploads and the OpenAI API's outputs live in the files directory, which is also
    // where the embedded default lets reference-API batches read and write.
    const filesDir = path.resolve(config.batch.filesDir ?? path.join(options.dataDir, "files"));
    await mkdir(filesDir, { recursive: true });
    const files = new FileStore(db.prisma, filesDir, clock ?? systemClock, config.batch);
    // Expired files and abandoned uploads leave the disk on every instance's timer.
    const fileCleanup = new FileCleanup(
      files,
      logger.child({ component: "files" }),
      config.batch.fileCleanupInterval * 1000,
    );
    fileCleanup.start();
    cleanup.push(() => fileCleanup.stop());
    let worker: BatchWorker | undefined;
    const batchService = new BatchService({
      db,
      settings: config.batch,
      files,
      clock: clock ?? systemClock,
      allowedDirs: (cluster) => allowedDirsFor(cluster, filesDir, env),
      notify: (event) => (event.kind === "cancelled" ? worker?.cancel(event.batchId) : worker?.wake()),
    });
    if (config.batch.fileAccess === "service") {
      const users = await db.prisma.user.count();
      if (users > 1) {
        logger.warn(
          { users },
          "batch.fileAccess is 'service': every user's batches read and write shared storage with the service account's rights; set it to 'posix' (or 'world') when more than one user signs in (docs/security.md)",
        );
      }
    }
    const gateway = new Gateway({
      config,
      scheduler,
      auth,
      db,
      logger,
      accessLog: loggers.access,
      registry: metrics.registry,
      requestMetrics: metrics,
      engines: engineOptions(config),
      redis,
      batches: { service: batchService, files },
    });
    cleanup.push(() => gateway.close());
    if (options.batchWorker ?? config.batch.runInServe) {
      worker = new BatchWorker({
        db,
        scheduler,
        config,
        settings: config.batch,
        engines: engineOptions(config),
        files,
        clock: clock ?? systemClock,
        logger: logger.child({ component: "batch" }),
        metrics: new BatchMetrics(metrics.registry),
        onUsage: batchUsageSink(gateway.deps.usage),
      });
      worker.start();
      const started = worker;
      cleanup.push(() => started.close());
    }

    const ctx = buildContext({
      config,
      configSource: source,
      db,
      logger,
      accessLog: loggers.access,
      metrics,
      auth,
      scheduler,
      gateway,
      batches: { service: batchService, files, worker },
      redis,
      ...(clock ? { clock } : {}),
    });
    const dashboard = new Dashboard(options.dashboardDir ?? DEFAULT_DASHBOARD_DIR, logger);
    cleanup.push(async () => dashboard.close());
    const metricsToken = scrapeToken(config.metrics, env);
    const { app, routes } = createApp(ctx, { dashboard, metricsToken });
    // Inference requests take the gateway's lean path; everything else goes through Express.
    const server = createServer((req, res) => {
      if (!gateway.dispatch(req, res)) app(req, res);
    });
    server.keepAliveTimeout = 65_000; // longer than common load balancers' idle timeouts
    await listen(server, options.port, options.host);
    let metricsUrl: string | undefined;
    if (config.metrics.listen) {
      const scrapes = await listenForScrapes({
        ...parseListen(config.metrics.listen),
        registry: metrics.registry,
        token: metricsToken,
      }).catch((error: NodeJS.ErrnoException) => {
        server.close();
        const reason = error.code ?? error.message;
        throw new ListenError(`metrics.listen ${config.metrics.listen} cannot be opened (${reason})`, { cause: error });
      });
      cleanup.push(() => scrapes.close());
      metricsUrl = `${scrapes.url}/metrics`;
    }
    const { port } = server.address() as AddressInfo;
    const shownHost = options.host.includes(":") ? `[${options.host}]` : options.host;
    const url = `http://${shownHost === "0.0.0.0" ? "127.0.0.1" : shownHost}:${port}`;
    publicUrl = url;
    db.lock?.setUrl(url);
    logger.info(
      {
        url,
        issuer: auth.issuer(),
        database: `${db.driver} ${db.location}`,
        sharedState: redis ? "redis" : "memory",
        metrics: config.metrics.public
          ? "public"
          : `admin${metricsToken ? " or scrape token" : ""}${metricsUrl ? `; also ${metricsUrl}` : ""}`,
        migrationsApplied: report.applied.length,
        config: source,
        models: config.models.length,
        clusters: config.clusters.length,
        startupMs: Date.now() - began,
      },
      `switchyard ${ctx.version} listening on ${url}`,
    );
    if (options.buildDashboard) void dashboard.buildIfStale();

    let closing: Promise<void> | undefined;
    const close = () => {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const grace = setTimeout(() => server.closeAllConnections(), 5000);
        await stopped;
        clearTimeout(grace);
        await closeAll();
        logger.info("switchyard stopped");
        await loggers.flush();
      })();
      return closing;
    };
    return { url, port, ctx, server, routes, dashboard, metricsUrl, close };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
