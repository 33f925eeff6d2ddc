import { mkdir } from "node:fs/promises";
import path from "node:path";
import { BatchMetrics, BatchWorker, FileStore } from "@switchyard/batch";
import { systemClock } from "@switchyard/core";
import { openDatabase, syncCatalog } from "@switchyard/db";
import { UsageRecorder } from "@switchyard/gateway/usage";
import { Scheduler } from "@switchyard/scheduler";
import { batchUsageSink } from "./batch-usage";
import { CliError } from "./cli-io";
import { loadConfig } from "./config";
import { createLaunchers, engineOptions } from "./launchers";
import { createLoggers, type Logger } from "./logger";
import { createMetrics, listenForScrapes, scrapeToken } from "./metrics";

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
  const logger = loggers.logger.child({ component: "batch-worker" });
  const { config, source } = await loadConfig(options.configFile, env);
  const cleanup: (() => Promise<unknown>)[] = [];
  const closeAll = async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
  };
  const db = await openDatabase({ driver: "postgres", url: env.DATABASE_URL });
  cleanup.push(() => db.close());
  try {
    await db.migrate();
    await syncCatalog(db.prisma, config);
    const metrics = createMetrics();
    const scheduler = new Scheduler({
      db,
      config,
      clock: systemClock,
      logger: logger.child({ component: "scheduler" }),
      launchers: createLaunchers(config, options.dataDir, logger),
      engines: engineOptions(config),
      registry: metrics.registry,
      autoTick: true,
      env,
    });
    await scheduler.start();
    cleanup.push(() => scheduler.close());
    const filesDir = path.resolve(config.batch.filesDir ?? path.join(options.dataDir, "files"));
    await mkdir(filesDir, { recursive: true });
    const usage = new UsageRecorder(db, logger);
    usage.start();
    cleanup.push(() => usage.stop());
    const worker = new BatchWorker({
      db,
      scheduler,
      config,
      settings: config.batch,
      engines: engineOptions(config),
      files: new FileStore(db.prisma, filesDir, systemClock, config.batch),
      clock: systemClock,
      logger,
      metrics: new BatchMetrics(metrics.registry),
      onUsage: batchUsageSink(usage),
    });
    worker.start();
    cleanup.push(() => worker.close());

    let metricsUrl: string | undefined;
    if (options.metricsPort !== undefined) {
      const scrapes = await listenForScrapes({
        host: options.metricsHost ?? "127.0.0.1",
        port: options.metricsPort,
        registry: metrics.registry,
        token: scrapeToken(config.metrics, env),
        health: () => ({ status: "ok", role: "batch-worker", running: worker.running() }),
      });
      cleanup.push(() => scrapes.close());
      metricsUrl = scrapes.url;
    }
    logger.info(
      { worker: worker.id, config: source, database: `${db.driver} ${db.location}`, metricsUrl },
      "batch worker started",
    );
    let closing: Promise<void> | undefined;
    return {
      worker,
      metricsUrl,
      close: () => {
        closing ??= (async () => {
          await closeAll();
          logger.info("batch worker stopped");
          await loggers.flush();
        })();
        return closing;
      },
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
