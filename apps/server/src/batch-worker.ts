import type { BatchWorker } from "@switchyard/batch";
import { CliError } from "./cli-io";
import { compose } from "./compose";
import { createLoggers, type Logger } from "./logger";
import { listenForScrapes, scrapeToken } from "./metrics";

export interface BatchWorkerOptions {
  dataDir: string;
  configFile?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Serve `/metrics` and `/health` on this port (0: any free port); none when undefined. */
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
 * `switchyard batch-worker`: the batch worker alone, for the scaled setup (PostgreSQL), so
 * large batches run in processes of their own, beside `serve` instances that set
 * `batch.runInServe: false`. It joins the scheduler like any instance (one leads, the others
 * follow through the database), takes batches through their advisory locks, and writes the
 * same files and usage rows `serve` would.
 */
export async function startBatchWorker(options: BatchWorkerOptions): Promise<RunningBatchWorker> {
  const env = options.env ?? process.env;
  if (!env.DATABASE_URL) {
    // The embedded database belongs to one process: serve runs batches itself there.
    throw new CliError(
      "batch-worker needs PostgreSQL (set DATABASE_URL): the embedded database belongs to 'switchyard serve', which runs batches itself (batch.runInServe)",
    );
  }
  const loggers = options.logger
    ? { logger: options.logger, access: options.logger, flush: async () => options.logger?.flush() }
    : createLoggers();
  const ctx = await compose({
    role: "batch-worker",
    dataDir: options.dataDir,
    configFile: options.configFile,
    env,
    loggers,
    database: { driver: "postgres", url: env.DATABASE_URL },
  });
  const { logger, config, db } = ctx;
  const { worker } = ctx.batches;
  try {
    let metricsUrl: string | undefined;
    if (options.metricsPort !== undefined) {
      const scrapes = await listenForScrapes({
        host: options.metricsHost ?? "127.0.0.1",
        port: options.metricsPort,
        registry: ctx.metrics.registry,
        token: scrapeToken(config.metrics, env),
        health: () => ({ status: "ok", role: "batch-worker", running: worker.running() }),
      });
      ctx.onClose(() => scrapes.close());
      metricsUrl = scrapes.url;
    }
    logger.info(
      { worker: worker.id, config: ctx.configSource, database: `${db.driver} ${db.location}`, metricsUrl },
      "batch worker started",
    );
    let closing: Promise<void> | undefined;
    return {
      worker,
      metricsUrl,
      close: () => {
        closing ??= (async () => {
          await ctx.close();
          logger.info("batch worker stopped");
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
