import type { BatchSettings, Clock, SwitchyardConfig } from "@switchyard/core";
import type { Database } from "@switchyard/db";
import type { EngineAdapterOptions } from "@switchyard/engines";
import type { Scheduler } from "@switchyard/scheduler";
import type { Logger } from "pino";
import type { Dispatcher } from "undici";
import type { FileStore } from "../files";
import type { BatchMetrics } from "../metrics";
import type { BatchRecord, BatchStore } from "../store";
import type { Interrupts } from "./interrupts";

export interface RunnerDeps {
  db: Database;
  scheduler: Scheduler;
  config: SwitchyardConfig;
  settings: BatchSettings;
  engines: EngineAdapterOptions;
  files: FileStore;
  clock: Clock;
  logger: Logger;
  metrics: BatchMetrics;
  /** A keep-alive connection pool per model server. */
  pool: (baseUrl: string) => Dispatcher;
  /** How many batches of the same model this worker runs now (they share its cap). */
  sharing: (cluster: string, model: string) => number;
  /** The worker running this batch: written on the batch's row with every checkpoint. */
  workerId: string;
}

/** Lines answered and failed, and the tokens they used, up to the written end of the output. */
export interface LineCounts {
  completed: number;
  failed: number;
  prompt: number;
  completion: number;
}

/**
 * What every part of one batch run shares, built once the batch's row is loaded: the
 * worker's dependencies, the store, the row (one object for the whole run; `reload` refreshes
 * it in place), the run's logger, its interruption state and its counts.
 */
export interface RunResources {
  readonly deps: RunnerDeps;
  readonly store: BatchStore;
  readonly batch: BatchRecord;
  readonly log: Logger;
  readonly interrupts: Interrupts;
  /** Zero until the output files are opened, then the checkpoint's counts and on from there. */
  readonly counts: LineCounts;
  now(): number;
}

/** Read the batch's row again (into the same object the parts hold); false when it is gone. */
export async function reload(res: RunResources): Promise<boolean> {
  const row = await res.store.load(res.batch.id);
  if (!row) return false;
  Object.assign(res.batch, row);
  return true;
}
