import { randomUUID } from "node:crypto";
import { type BatchStatus, ManualClock } from "@switchyard/core";
import { openTestDatabase, type TestDatabase } from "@switchyard/db/testing";
import pino from "pino";
import { Interrupts } from "../../src/run/interrupts";
import type { Finished, OutputSink } from "../../src/run/output-lines";
import type { RunnerDeps, RunResources } from "../../src/run/resources";
import { type BatchRecord, BatchStore } from "../../src/store";

/**
 * An output file in memory: `append` buffers, `write` "syncs" a taken chunk. `synced` is what
 * a crash would leave on disk.
 */
export class FakeSink implements OutputSink {
  synced: string[] = [];
  private pending: string[] = [];
  closed = false;

  append(line: string): void {
    this.pending.push(line);
  }

  get bufferedBytes(): number {
    return this.pending.reduce((sum, line) => sum + Buffer.byteLength(line) + 1, 0);
  }

  async sync(): Promise<number> {
    this.synced.push(...this.pending);
    this.pending = [];
    return this.length;
  }

  /** The synced length in bytes, as an OutputFile reports it. */
  get length(): number {
    return this.synced.reduce((sum, line) => sum + Buffer.byteLength(line) + 1, 0);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** A line outcome whose written line is just its name, so files read as lists. */
export function outcome(name: string, ok = true, tokens = 0): Finished {
  return { customId: name, line: name, ok, promptTokens: tokens, completionTokens: tokens };
}

/** The resources of a run with no database behind them (for the parts that never write a row). */
export function memoryResources(): RunResources {
  const clock = new ManualClock();
  const logger = pino({ level: "silent" });
  const batch = { id: "batch_memory", model: "org/batchy", clusterName: "lab", status: "in_progress" } as BatchRecord;
  return {
    deps: { clock, logger, workerId: "worker-1" } as unknown as RunnerDeps,
    store: undefined as unknown as BatchStore,
    batch,
    log: logger,
    interrupts: new Interrupts(),
    counts: { completed: 0, failed: 0, prompt: 0, completion: 0 },
    now: () => clock.now(),
  };
}

let shared: Promise<TestDatabase> | undefined;

/** One migrated in-memory PGlite per test file; close it in the file's `afterAll`. */
export async function sharedDatabase(): Promise<TestDatabase> {
  shared ??= openTestDatabase("pglite");
  return shared;
}

export async function closeSharedDatabase(): Promise<void> {
  const db = await shared;
  shared = undefined;
  await db?.close();
}

export interface RunWorld {
  db: TestDatabase;
  store: BatchStore;
  clock: ManualClock;
  res: RunResources;
  /** The batch's row as the database has it now. */
  row(): Promise<NonNullable<Awaited<ReturnType<TestDatabase["prisma"]["batch"]["findUnique"]>>>>;
}

/**
 * A batch row in a real (PGlite) database in `status`, and the resources of a run over it.
 * The run's dependencies are only those the parts under test read (the store, the clock, the
 * worker id); a reference batch, so no output file is registered.
 */
export async function runWorld(
  status: BatchStatus,
  fields: { expiresAt?: Date; totalCount?: number } = {},
): Promise<RunWorld> {
  const db = await sharedDatabase();
  const user = await db.prisma.user.create({ data: { username: `u-${randomUUID()}` } });
  const id = `batch_${randomUUID().replaceAll("-", "")}`;
  await db.prisma.batch.create({
    data: {
      id,
      userId: user.id,
      api: "reference",
      clusterName: "lab",
      framework: "vllm",
      model: "org/batchy",
      endpoint: "/v1/chat/completions",
      status,
      inputPath: "/nonexistent/input.jsonl",
      totalCount: fields.totalCount ?? 0,
      expiresAt: fields.expiresAt ?? null,
    },
  });
  const store = new BatchStore(db);
  const batch = (await store.load(id)) as BatchRecord;
  const clock = new ManualClock();
  const logger = pino({ level: "silent" });
  const deps = { db, clock, logger, workerId: "worker-1" } as unknown as RunnerDeps;
  const res: RunResources = {
    deps,
    store,
    batch,
    log: logger,
    interrupts: new Interrupts(),
    counts: { completed: 0, failed: 0, prompt: 0, completion: 0 },
    now: () => clock.now(),
  };
  return {
    db,
    store,
    clock,
    res,
    row: async () => {
      const row = await db.prisma.batch.findUnique({ where: { id } });
      if (!row) throw new Error(`batch ${id} is gone`);
      return row;
    },
  };
}
