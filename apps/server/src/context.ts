import { createRequire } from "node:module";
import type { AuthService, RedisLink } from "@switchyard/auth";
import type { BatchService, BatchWorker, FileStore } from "@switchyard/batch";
import type { Clock, SwitchyardConfig } from "@switchyard/core";
import type { Database } from "@switchyard/db";
import type { Gateway } from "@switchyard/gateway";
import type { Scheduler } from "@switchyard/scheduler";
import type { UsageRecorder } from "@switchyard/usage";
import type { Logger } from "./logger";
import type { Metrics } from "./metrics";
import type { InstanceRole } from "./roles";

const require = createRequire(import.meta.url);
export const VERSION: string = (require("../package.json") as { version: string }).version;

/**
 * How a process is composed: `serve` has the HTTP API (the `gateway` role); `batch-worker` is
 * any process without it (`switchyard batch-worker`, `serve --roles scheduler,batch`, ...).
 */
export type Role = "serve" | "batch-worker";

/**
 * What every process has, whatever its role, built once by `compose` (compose.ts) and passed
 * down: the shared resources (config, database, loggers, metrics, clock) and the services
 * every role runs. What varies (database driver, Redis or memory for shared state, launchers per
 * cluster, the batch worker in serve or not) is chosen there, in one place, from config and
 * environment.
 */
export interface ProcessContext {
  role: Role;
  /** What this instance runs (`serve --roles`; /health says it). */
  roles: readonly InstanceRole[];
  config: SwitchyardConfig;
  /** Where the config came from: a file path or the built-in catalog. */
  configSource: string;
  env: NodeJS.ProcessEnv;
  dataDir: string;
  db: Database;
  /** How many migrations this start applied. */
  migrationsApplied: number;
  logger: Logger;
  /** The one line per request (no redaction pass: its fields are chosen by the server). */
  accessLog: Logger;
  metrics: Metrics;
  clock: Clock;
  scheduler: Scheduler;
  /** Usage records of inference requests and batch lines, buffered and written in bulk. */
  usage: UsageRecorder;
  /** Uploaded and output files; `worker` when this process runs batches. */
  batches: { files: FileStore; filesDir: string; worker: BatchWorker | undefined };
  version: string;
  /** Epoch ms when the process was composed (its services started). */
  startedAt: number;
  /** The address the process serves at, once it listens (the token issuer's default, the data-dir lock's). */
  publicUrl(): string | undefined;
  setPublicUrl(url: string): void;
  /** Close this too when the process closes (steps run last-registered first). */
  onClose(step: () => Promise<unknown>): void;
  /** Close everything the process opened, in reverse order; once. */
  close(): Promise<void>;
}

/** `serve`'s context: the process context plus the HTTP API's services. */
export interface AppContext extends ProcessContext {
  role: "serve";
  auth: AuthService;
  /**
   * Once it listens at `url`: without `auth.issuer`, take the issuer the install's instances
   * share (stored by the first of them), so that every instance accepts every other's tokens.
   */
  shareIssuer(url: string): Promise<void>;
  gateway: Gateway;
  /** Files and batches; `worker` when this process runs batches (`batch.runInServe`). */
  batches: ProcessContext["batches"] & { service: BatchService };
  /** Shared state across instances, when REDIS_URL is set (its client, and whether it is up now). */
  redis: RedisLink | undefined;
}
