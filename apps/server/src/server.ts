import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Clock } from "@switchyard/core";
import { databaseOptions, openDatabase, syncCatalog } from "@switchyard/db";
import { loadConfig } from "./config";
import { type AppContext, buildContext } from "./context";
import { createApp } from "./http/app";
import { createLogger, type Logger } from "./logger";
import { createMetrics } from "./metrics";

export interface ServeOptions {
  port: number;
  host: string;
  dataDir: string;
  /** Config file; otherwise SWITCHYARD_CONFIG, otherwise the built-in catalog. */
  configFile?: string | undefined;
  /** PostgreSQL URL; otherwise DATABASE_URL, otherwise embedded PGlite in the data dir. */
  databaseUrl?: string | undefined;
  /** Use an in-memory PGlite instead of the data dir (tests). */
  inMemoryDatabase?: boolean;
  logger?: Logger;
  clock?: Clock;
  env?: NodeJS.ProcessEnv;
}

export interface RunningServer {
  url: string;
  port: number;
  ctx: AppContext;
  server: Server;
  /** Stop accepting, finish in-flight requests (up to a grace period), close the database. */
  close(): Promise<void>;
}

export class ListenError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ListenError";
  }
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
  const logger = options.logger ?? createLogger();
  const began = Date.now();
  const { config, source } = await loadConfig(options.configFile, env);
  const databaseUrl = options.databaseUrl ?? env.DATABASE_URL;
  const db = await openDatabase(
    options.inMemoryDatabase
      ? { driver: "pglite" }
      : databaseOptions({ dataDir: options.dataDir, databaseUrl, command: "switchyard serve" }),
  );
  try {
    const report = await db.migrate();
    for (const name of report.modified) {
      logger.warn({ migration: name }, "an applied migration's file changed since it was applied");
    }
    await syncCatalog(db.prisma, config);
    const ctx = buildContext({
      config,
      configSource: source,
      db,
      logger,
      metrics: createMetrics(),
      ...(options.clock ? { clock: options.clock } : {}),
    });
    const { app } = createApp(ctx);
    const server = createServer(app);
    server.keepAliveTimeout = 65_000; // longer than common load balancers' idle timeouts
    await listen(server, options.port, options.host);
    const { port } = server.address() as AddressInfo;
    const shownHost = options.host.includes(":") ? `[${options.host}]` : options.host;
    const url = `http://${shownHost === "0.0.0.0" ? "127.0.0.1" : shownHost}:${port}`;
    db.lock?.setUrl(url);
    logger.info(
      {
        url,
        database: `${db.driver} ${db.location}`,
        migrationsApplied: report.applied.length,
        config: source,
        models: config.models.length,
        clusters: config.clusters.length,
        startupMs: Date.now() - began,
      },
      `switchyard ${ctx.version} listening on ${url}`,
    );

    let closing: Promise<void> | undefined;
    const close = () => {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const grace = setTimeout(() => server.closeAllConnections(), 5000);
        await stopped;
        clearTimeout(grace);
        await db.close();
        logger.info("switchyard stopped");
      })();
      return closing;
    };
    return { url, port, ctx, server, close };
  } catch (error) {
    await db.close();
    throw error;
  }
}
