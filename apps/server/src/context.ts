import { createRequire } from "node:module";
import type { AuthService } from "@switchyard/auth";
import type { BatchService, BatchWorker, FileStore } from "@switchyard/batch";
import { type Clock, type SwitchyardConfig, systemClock } from "@switchyard/core";
import type { Database } from "@switchyard/db";
import type { Gateway } from "@switchyard/gateway";
import type { Scheduler } from "@switchyard/scheduler";
import type { Redis } from "ioredis";
import type { Logger } from "./logger";
import type { Metrics } from "./metrics";

const require = createRequire(import.meta.url);
export const VERSION: string = (require("../package.json") as { version: string }).version;

/**
 * Everything a process needs, built once at start-up and passed down. Capabilities that vary
 * (database driver, Redis or memory for shared state; launcher and rate limiter as they land)
 * are chosen here, in one place, from config and environment.
 */
export interface AppContext {
  config: SwitchyardConfig;
  /** Where the config came from: a file path or the built-in catalog. */
  configSource: string;
  db: Database;
  logger: Logger;
  /** The one line per request (no redaction pass: its fields are chosen by the server). */
  accessLog: Logger;
  metrics: Metrics;
  clock: Clock;
  auth: AuthService;
  scheduler: Scheduler;
  gateway: Gateway;
  /** Files and batches; `worker` when this process runs batches (`batch.runInServe`). */
  batches: { service: BatchService; files: FileStore; worker: BatchWorker | undefined };
  /** Shared state across instances, when REDIS_URL is set. */
  redis: Redis | undefined;
  version: string;
  /** Epoch ms when the process started serving. */
  startedAt: number;
}

export function buildContext(
  parts: Omit<AppContext, "version" | "startedAt" | "clock"> & { clock?: Clock },
): AppContext {
  const clock = parts.clock ?? systemClock;
  return { ...parts, clock, version: VERSION, startedAt: clock.now() };
}
