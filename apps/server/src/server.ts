import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Clock } from "@switchyard/core";
import { databaseOptions } from "@switchyard/db";
import type { RouteTable } from "@switchyard/http";
import { CliError } from "./cli-io";
import { shownUrl } from "./commands/options";
import { compose } from "./compose";
import type { AppContext } from "./context";
import { Dashboard, DEFAULT_DASHBOARD_DIR } from "./dashboard";
import { ListenError } from "./errors";
import { createApp } from "./http/app";
import { createLoggers, type Logger } from "./logger";
import { listenForScrapes, parseListen, scrapeToken } from "./metrics";
import { type InstanceRole, isAllInOne } from "./roles";

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
  /**
   * Use an in-memory PGlite instead of the data dir (tests); given a dump of a data dir
   * (`pgliteTemplate()` of @switchyard/db/testing), start from it instead of an empty one.
   */
  inMemoryDatabase?: boolean | Blob;
  /** Run the batch worker in this process (default: the config's `batch.runInServe`). */
  batchWorker?: boolean;
  /**
   * What this instance runs (`serve --roles`; it must include `gateway` here, see
   * `startBackground` for the others). Default: all of them, the batch worker per `batchWorker`.
   * Any set but all three needs PostgreSQL.
   */
  roles?: readonly InstanceRole[];
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

/** Compose the process (compose.ts), then serve HTTP. Used by `switchyard serve` and by tests (port 0). */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const env = options.env ?? process.env;
  const loggers = options.logger
    ? { logger: options.logger, access: options.logger, flush: async () => options.logger?.flush() }
    : createLoggers();
  const { logger } = loggers;
  const began = Date.now();
  const databaseUrl = options.databaseUrl ?? env.DATABASE_URL;
  const { roles } = options;
  if (roles && !roles.includes("gateway")) throw new Error("startServer runs the gateway role; use startBackground");
  if (roles && !isAllInOne(roles) && !databaseUrl) {
    throw new CliError(
      `serve --roles ${roles.join(",")} needs PostgreSQL (set DATABASE_URL): instances that split the roles share one database, and the embedded one belongs to a single process (run 'switchyard serve' without --roles for the all-in-one)`,
    );
  }
  const ctx = await compose({
    roles,
    role: "serve",
    dataDir: options.dataDir,
    configFile: options.configFile,
    env,
    loggers,
    database: options.inMemoryDatabase
      ? options.inMemoryDatabase instanceof Blob
        ? { driver: "pglite", loadDataDir: options.inMemoryDatabase }
        : { driver: "pglite" }
      : databaseOptions({ dataDir: options.dataDir, databaseUrl, command: "switchyard serve" }),
    clock: options.clock,
    redisUrl: options.redisUrl ?? env.REDIS_URL,
    schedulerAutoTick: options.schedulerAutoTick,
    batchWorker: options.batchWorker,
    onAdminCreated: options.onAdminCreated,
  });
  const { config, gateway, metrics } = ctx;
  try {
    const dashboard = new Dashboard(options.dashboardDir ?? DEFAULT_DASHBOARD_DIR, logger);
    ctx.onClose(async () => dashboard.close());
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
      ctx.onClose(() => scrapes.close());
      metricsUrl = `${scrapes.url}/metrics`;
    }
    const { port } = server.address() as AddressInfo;
    const url = shownUrl(options.host, port);
    ctx.setPublicUrl(url);
    await ctx.shareIssuer(url);
    logger.info(
      {
        url,
        roles: ctx.roles,
        issuer: ctx.auth.issuer(),
        database: `${ctx.db.driver} ${ctx.db.location}`,
        sharedState: ctx.redis ? "redis" : "memory",
        metrics: config.metrics.public
          ? "public"
          : `admin${metricsToken ? " or scrape token" : ""}${metricsUrl ? `; also ${metricsUrl}` : ""}`,
        migrationsApplied: ctx.migrationsApplied,
        config: ctx.configSource,
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
        await ctx.close();
        logger.info("switchyard stopped");
        await loggers.flush();
      })();
      return closing;
    };
    return { url, port, ctx, server, routes, dashboard, metricsUrl, close };
  } catch (error) {
    await ctx.close();
    throw error;
  }
}
