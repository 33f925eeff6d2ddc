import { type BatchStatus, canTransitionBatch } from "@switchyard/core";
import type { Database, Prisma, PrismaClientOrTransaction } from "@switchyard/db";
import { USAGE_COLUMNS } from "@switchyard/usage";
import type { BatchFileRefs } from "./batch-files";
import { type BatchUsageOwner, type BatchUsageRows, batchUsageRowsSelect, INSERT_BATCH_USAGE } from "./usage";

/** The batch row as a run (run/) reads it. */
export interface BatchRecord {
  id: string;
  userId: string;
  api: string;
  clusterName: string;
  model: string;
  endpoint: string;
  status: BatchStatus;
  inputPath: string;
  resultsPath: string | null;
  errorsPath: string | null;
  progressPath: string | null;
  fileRefs: unknown;
  totalCount: number;
  completedCount: number;
  failedCount: number;
  cursorLine: number;
  resultsBytes: bigint;
  errorsBytes: bigint;
  promptTokens: bigint;
  completionTokens: bigint;
  inProgressAt: Date | null;
  expiresAt: Date | null;
  /** The project its lines are charged to. */
  projectId: string | null;
}

/** What a checkpoint saves: where the written output ends, and the counts up to there. */
export interface CheckpointRow {
  cursorLine: number;
  resultsBytes: number;
  errorsBytes: number;
  completed: number;
  failed: number;
  promptTokens: number;
  completionTokens: number;
  leaseUntil: Date;
  workerId: string;
}

/** Fields a status change writes with the status (timestamps, counts, errors, file ids). */
export type TransitionFields = Omit<Prisma.BatchUpdateManyMutationInput, "status">;

/**
 * A checkpoint and the usage of the lines it covers, in one statement: the rows are written
 * only if the batch is still this run's (the UPDATE matched), and never without the checkpoint,
 * so a line a resumed run sends again is charged once, and a worker killed loses none.
 */
const CHECKPOINT = `WITH moved AS (
  UPDATE "batches" SET "cursorLine" = $2, "resultsBytes" = $3, "errorsBytes" = $4,
    "completedCount" = $5, "failedCount" = $6, "promptTokens" = $7, "completionTokens" = $8,
    "leaseUntil" = $9, "workerId" = $10
  WHERE "id" = $1 AND "status" IN ('in_progress', 'cancelling') RETURNING "status"::text AS "status"
), charged AS (
  INSERT INTO "usage_records" ${USAGE_COLUMNS}
  SELECT * FROM (${batchUsageRowsSelect(11)}) AS lines WHERE EXISTS (SELECT 1 FROM moved)
)
SELECT "status" FROM moved`;

/**
 * The batches table as the service and the worker change it. Every status write is a
 * compare-and-set through `transition`, checked against core's `BATCH_TRANSITIONS`, so the
 * state machine is written down once and a move it does not allow fails loudly.
 */
export class BatchStore {
  constructor(private readonly db: Database) {}

  async load(id: string): Promise<BatchRecord | undefined> {
    const row = await this.db.prisma.batch.findUnique({ where: { id } });
    return row ? (row as BatchRecord) : undefined;
  }

  /**
   * Move the batch to `to` if its status is still one of `from`, with `fields` in the same
   * UPDATE. False when it had moved on (another process, or the API, changed it first).
   * `charge`, the usage of the lines written with this status, is inserted in the same
   * transaction, only if the move happened: a run that loses the race charges nothing, and a
   * process that dies right after the move loses no usage.
   */
  async transition(
    id: string,
    from: BatchStatus | readonly BatchStatus[],
    to: BatchStatus,
    fields: TransitionFields = {},
    charge?: { usage: BatchUsageRows; owner: BatchUsageOwner },
  ): Promise<boolean> {
    const froms: readonly BatchStatus[] = typeof from === "string" ? [from] : from;
    const wrong = froms.filter((status) => !canTransitionBatch(status, to));
    if (wrong.length > 0) throw new Error(`a batch cannot go from ${wrong.join(", ")} to ${to}`);
    const move = async (db: PrismaClientOrTransaction) =>
      (await db.batch.updateMany({ where: { id, status: { in: [...froms] } }, data: { ...fields, status: to } }))
        .count === 1;
    if (!charge || charge.usage.length === 0) return move(this.db.prisma);
    return this.db.prisma.$transaction(async (tx) => {
      const moved = await move(tx);
      if (moved) await tx.$executeRawUnsafe(INSERT_BATCH_USAGE, ...charge.usage.parameters(charge.owner));
      return moved;
    });
  }

  /** Record the batch's files (the identities its later runs check them against). */
  async saveRefs(id: string, refs: BatchFileRefs): Promise<void> {
    await this.db.prisma.batch.update({
      where: { id },
      data: { fileRefs: refs as unknown as Prisma.InputJsonValue },
    });
  }

  /**
   * Save a checkpoint while the batch runs (or is being cancelled); the status it has now,
   * or undefined when it is in neither (it ended, or is not this worker's to write).
   */
  async checkpoint(
    id: string,
    row: CheckpointRow,
    usage: BatchUsageRows,
    owner: BatchUsageOwner,
  ): Promise<BatchStatus | undefined> {
    const rows = await this.db.query<{ status: BatchStatus }>(CHECKPOINT, [
      id,
      row.cursorLine,
      row.resultsBytes,
      row.errorsBytes,
      row.completed,
      row.failed,
      row.promptTokens,
      row.completionTokens,
      row.leaseUntil,
      row.workerId,
      ...usage.parameters(owner),
    ]);
    return rows[0]?.status;
  }
}
