import type { Database } from "@switchyard/db";
import type { Logger } from "pino";
import { Counter, type Registry } from "prom-client";

/** One inference request or batch line, as accounted. */
export interface UsageRecord {
  at: Date;
  requestId: string;
  userId: string | null;
  apiKeyId: string | null;
  model: string;
  cluster: string;
  route: string;
  status: number;
  promptTokens: number;
  completionTokens: number;
  latencyMs: number;
  ttftMs: number | null;
  stream: boolean;
  /** The project the request is charged to (a batch line's); absent or null: none. */
  projectId?: string | null | undefined;
}

/** The usage rows of `$<first>`..`$<first + 13>` (one array each, see `usageColumns`), as a SELECT. */
export function usageRowsSelect(first: number): string {
  const types = [
    "timestamptz",
    "text",
    "uuid",
    "text",
    "text",
    "text",
    "text",
    "int",
    "int",
    "int",
    "int",
    "int",
    "bool",
    "uuid",
  ];
  return `SELECT * FROM unnest(${types.map((type, i) => `$${first + i}::${type}[]`).join(", ")})`;
}

/** The columns `usageRowsSelect` fills, in its order. */
export const USAGE_COLUMNS = `("at", "requestId", "userId", "apiKeyId", "model", "clusterName", "route", "status", "promptTokens", "completionTokens", "latencyMs", "ttftMs", "stream", "projectId")`;

const INSERT = `INSERT INTO "usage_records" ${USAGE_COLUMNS}\n${usageRowsSelect(1)}`;

/** Records as the fourteen arrays `usageRowsSelect` reads (one per column). */
export function usageColumns(batch: readonly UsageRecord[]): unknown[] {
  return [
    batch.map((r) => r.at.toISOString()),
    batch.map((r) => r.requestId),
    batch.map((r) => r.userId),
    batch.map((r) => r.apiKeyId),
    batch.map((r) => r.model),
    batch.map((r) => r.cluster),
    batch.map((r) => r.route),
    batch.map((r) => r.status),
    batch.map((r) => r.promptTokens),
    batch.map((r) => r.completionTokens),
    batch.map((r) => r.latencyMs),
    batch.map((r) => r.ttftMs),
    batch.map((r) => r.stream),
    batch.map((r) => r.projectId ?? null),
  ];
}

/** Where usage goes: the gateway and the batch worker only ever record. */
export interface UsageSink {
  record(entry: UsageRecord): void;
}

export interface UsageRecorderOptions {
  /** Where `switchyard_usage_records_dropped_total` is registered; without one, drops are only logged. */
  registry?: Registry | undefined;
  /** How often the buffer is written (default 2 s). */
  intervalMs?: number | undefined;
  /** Records held while the database is behind; more are dropped (default 200,000). */
  maxBuffered?: number | undefined;
  /**
   * Records per INSERT (default 250). Turning a batch into the statement's arrays is synchronous
   * work (about 4 µs a record): 2,000 records (two seconds at 1,000 req/s) in one statement held
   * the event loop for 7-16 ms, a stall every flush that showed in the gateway's p99; 250 hold it
   * for 1-2 ms at a time, the INSERTs' round trips between them.
   */
  batchSize?: number | undefined;
}

/**
 * Usage records are kept in memory and written in one statement every few seconds (and at
 * shutdown): never a database write per request. If the database falls behind, the buffer is
 * capped and what does not fit is counted as dropped (and logged), never silently lost.
 */
export class UsageRecorder implements UsageSink {
  private buffer: UsageRecord[] = [];
  /** Records taken from the buffer by the flush running now and not written yet (they count against the cap). */
  private writing = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private readonly dropped: Counter | undefined;
  private readonly options: { intervalMs: number; maxBuffered: number; batchSize: number };

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
    options: UsageRecorderOptions = {},
  ) {
    this.options = {
      intervalMs: options.intervalMs ?? 2000,
      maxBuffered: options.maxBuffered ?? 200_000,
      batchSize: options.batchSize ?? 250,
    };
    this.dropped = options.registry
      ? new Counter({
          name: "switchyard_usage_records_dropped_total",
          help: "Usage records not written because the database fell too far behind",
          registers: [options.registry],
        })
      : undefined;
  }

  /** Records waiting to be written (more than a few seconds' worth: the database is behind or down). */
  get pending(): number {
    return this.buffer.length + this.writing;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.options.intervalMs);
    this.timer.unref();
  }

  record(entry: UsageRecord): void {
    if (this.buffer.length + this.writing >= this.options.maxBuffered) {
      this.dropped?.inc();
      if (this.buffer.length + this.writing === this.options.maxBuffered)
        this.logger.warn("usage buffer full: the database is not keeping up");
      return;
    }
    this.buffer.push(entry);
  }

  /** Write everything buffered so far (one statement per batch); concurrent calls share one run. */
  flush(): Promise<void> {
    // `.finally` runs after the promise settles, so the reset can never happen before the
    // assignment (an async body with nothing to await would otherwise finish first).
    this.flushing ??= this.drain().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0) {
      // What is buffered now, in batches (records that arrive meanwhile wait for the next round).
      const taken = this.buffer;
      this.buffer = [];
      const { batchSize } = this.options;
      for (let start = 0; start < taken.length; start += batchSize) {
        this.writing = taken.length - start;
        try {
          await this.db.execute(INSERT, usageColumns(taken.slice(start, start + batchSize)));
          this.writing = 0;
        } catch (error) {
          this.writing = 0;
          // Put what is not written back for the next attempt; the cap bounds memory meanwhile.
          const unwritten = taken.slice(start);
          const room = Math.max(0, this.options.maxBuffered - this.buffer.length);
          this.buffer = unwritten.slice(0, room).concat(this.buffer);
          this.logger.warn({ err: error, pending: this.buffer.length }, "could not write usage records; will retry");
          return;
        }
      }
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flushing;
    await this.flush();
  }
}
