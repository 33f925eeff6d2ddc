import type { BatchWorker } from "@switchyard/batch";
import { CliError } from "./cli-io";
import { compose } from "./compose";
import type { ProcessContext } from "./context";
import { ListenError } from "./errors";
import { createLoggers, type Logger } from "./logger";
import { listenForScrapes, scrapeToken } from "./metrics";
import { health, readiness } from "./probes";
import type { InstanceRole } from "./roles";

export interface BackgroundOptions {
  /** What runs here: any of `scheduler` and `batch` (the gateway is `startServer`'s). */
  roles: readonly InstanceRole[];
  dataDir: string;
  configFile?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Serve `/health`, `/ready` and `/metrics` on this port (0: any free port); none when undefined. */
  port?: number | undefined;
  host?: string;
  logger?: Logger;
  /** The command to name in a refusal. */
  command?: string;
}

export interface RunningBackground {
  ctx: ProcessContext;
  /** The batch worker, when the `batch` role runs here. */
  worker: BatchWorker | undefined;
  /** Where `/health`, `/ready` and `/metrics` are served, when asked for. */
  url: string | undefined;
  close(): Promise<void>;
}

/**
 * An instance without the HTTP API, for the scaled setup on PostgreSQL: `serve --roles
 * scheduler` (the leader, or a standby that takes over when the leader's connection ends),
 * `--roles batch` (`switchyard batch-worker`) or both. Its scheduler leads only with the
 * `scheduler` role; otherwise it follows the database, which is all the batch worker needs to
 * find live replicas and ask for cold models. Its only HTTP is the probes and /metrics.
 */
export async function startBackground(options: BackgroundOptions): Promise<RunningBackground> {
  const env = options.env ?? process.env;
  const command = options.command ?? `switchyard serve --roles ${options.roles.join(",")}`;
  if (!env.DATABASE_URL) {
    // The embedded database belongs to one process: the all-in-one serve runs every role itself.
    throw new CliError(
      `${command} needs PostgreSQL (set DATABASE_URL): the embedded database belongs to one process, 'switchyard serve' with every role (it runs the scheduler and batches itself)`,
    );
  }
  const loggers = options.logger
    ? { logger: options.logger, access: options.logger, flush: async () => options.logger?.flush() }
    : createLoggers();
  const ctx = await compose({
    role: "batch-worker",
    roles: options.roles,
    dataDir: options.dataDir,
    configFile: options.configFile,
    env,
    loggers,
    database: { driver: "postgres", url: env.DATABASE_URL },
  });
  const { logger, config, db } = ctx;
  const { worker } = ctx.batches;
  try {
    let url: string | undefined;
    if (options.port !== undefined) {
      const host = options.host ?? "127.0.0.1";
      const scrapes = await listenForScrapes({
        host,
        port: options.port,
        registry: ctx.metrics.registry,
        token: scrapeToken(config.metrics, env),
        probes: {
          health: async () => {
            const answer = await health(ctx);
            // `role` and `running` are what batch-worker's /health said before roles.
            return { ...answer, body: { ...answer.body, role: ctx.role, running: worker?.running() ?? [] } };
          },
          ready: () => readiness(ctx),
        },
      }).catch((error: NodeJS.ErrnoException) => {
        throw new ListenError(`${host}:${options.port} cannot be opened (${error.code ?? error.message})`, {
          cause: error,
        });
      });
      ctx.onClose(() => scrapes.close());
      url = scrapes.url;
      ctx.setPublicUrl(url);
    }
    logger.info(
      {
        roles: ctx.roles,
        worker: worker?.id,
        leader: ctx.scheduler.isLeader,
        config: ctx.configSource,
        database: `${db.driver} ${db.location}`,
        url,
      },
      `switchyard ${ctx.version} running ${ctx.roles.join(", ")}`,
    );
    let closing: Promise<void> | undefined;
    return {
      ctx,
      worker,
      url,
      close: () => {
        closing ??= (async () => {
          await ctx.close();
          logger.info(`switchyard (${ctx.roles.join(", ")}) stopped`);
          await loggers.flush();
        })();
        return closing;
      },
    };
  } catch (error) {
    await ctx.close();
    throw error;
  }
}

export interface BatchWorkerOptions {
  dataDir: string;
  configFile?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Serve `/metrics`, `/health` and `/ready` on this port (0: any free port); none when undefined. */
  metricsPort?: number | undefined;
  metricsHost?: string;
  logger?: Logger;
}

export interface RunningBatchWorker {
  worker: BatchWorker;
  /** Where `/metrics` is served, when asked for. */
  metricsUrl: string | undefined;
  close(): Promise<void>;
}

/**
 * `switchyard batch-worker`, the shorthand of `serve --roles batch`: the batch worker alone,
 * beside `serve` instances that set `batch.runInServe: false` (or run without the `batch`
 * role). It takes batches through their advisory locks and writes the same files and usage
 * rows `serve` would.
 */
export async function startBatchWorker(options: BatchWorkerOptions): Promise<RunningBatchWorker> {
  const running = await startBackground({
    roles: ["batch"],
    dataDir: options.dataDir,
    configFile: options.configFile,
    env: options.env,
    port: options.metricsPort,
    host: options.metricsHost ?? "127.0.0.1",
    logger: options.logger,
    command: "batch-worker",
  });
  const { worker } = running;
  if (!worker) throw new Error("the batch role started no worker");
  return { worker, metricsUrl: running.url, close: running.close };
}
