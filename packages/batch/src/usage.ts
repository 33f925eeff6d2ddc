import { USAGE_COLUMNS } from "@switchyard/usage";

/** What a batch line's usage row holds beyond its tokens and the batch's own fields. */
export interface LineUsage {
  /** When the line finished (ms since the epoch). */
  at: number;
  requestId: string;
  status: number;
  latencyMs: number;
}

/** The fields every usage row of one batch shares. */
export interface BatchUsageOwner {
  userId: string;
  projectId?: string | null | undefined;
  model: string;
  clusterName: string;
}

/**
 * The usage rows of a run's lines since the last checkpoint, one array per column that differs
 * from line to line. A second's lines wait here for the checkpoint that saves them, so they are
 * kept as numbers and request ids in growing arrays, not as an object per line that would live
 * long enough to be promoted into the old heap.
 */
export class BatchUsageRows {
  readonly at: number[] = [];
  readonly requestId: string[] = [];
  readonly status: number[] = [];
  readonly promptTokens: number[] = [];
  readonly completionTokens: number[] = [];
  readonly latencyMs: number[] = [];

  get length(): number {
    return this.at.length;
  }

  add(line: LineUsage, promptTokens: number, completionTokens: number): void {
    this.at.push(line.at);
    this.requestId.push(line.requestId);
    this.status.push(line.status);
    this.promptTokens.push(promptTokens);
    this.completionTokens.push(completionTokens);
    this.latencyMs.push(line.latencyMs);
  }

  /**
   * The parameters of `batchUsageRowsSelect(first)`, in its order: the rows as one JSON array
   * of tuples (encoded natively, and a single text parameter that both pg and Prisma's raw
   * queries pass as is), then the fields every row shares.
   */
  parameters(owner: BatchUsageOwner): unknown[] {
    const rows = new Array<unknown[]>(this.length);
    for (let i = 0; i < rows.length; i++) {
      rows[i] = [
        this.at[i],
        this.requestId[i],
        this.status[i],
        this.promptTokens[i],
        this.completionTokens[i],
        this.latencyMs[i],
      ];
    }
    return [JSON.stringify(rows), owner.userId, owner.projectId ?? null, owner.model, owner.clusterName];
  }
}

/**
 * A batch's usage rows from `$<first>`..`$<first + 4>` (see `BatchUsageRows.parameters`), as a
 * SELECT in `USAGE_COLUMNS` order. A line is accounted as the user's own request would be, on
 * route `/v1/batches`: no key, never streamed, no first-token time, charged to the batch's
 * project. The fields every line shares are sent once, not once per row.
 */
export function batchUsageRowsSelect(first: number): string {
  const $ = (i: number) => `$${first + i}`;
  return `SELECT to_timestamp((r->>0)::float8 / 1000), r->>1, ${$(1)}::uuid, NULL::text, ${$(3)}::text, ${$(4)}::text,
    '/v1/batches', (r->>2)::int, (r->>3)::int, (r->>4)::int, (r->>5)::int, NULL::int, false, ${$(2)}::uuid
  FROM jsonb_array_elements(${$(0)}::jsonb) AS r`;
}

/** The INSERT of a batch's usage rows (`batchUsageRowsSelect(1)`). */
export const INSERT_BATCH_USAGE = `INSERT INTO "usage_records" ${USAGE_COLUMNS}\n${batchUsageRowsSelect(1)}`;
