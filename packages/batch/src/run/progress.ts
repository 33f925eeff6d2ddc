import type { FileHandle } from "node:fs/promises";
import path from "node:path";
import type { BatchStatus } from "@switchyard/core";
import { writeProgress } from "../output";
import type { RunResources } from "./resources";

/**
 * `progress.json` in the batch's directory: counts, the rate over the last minute, an ETA, and
 * what the run waits for (`waitingFor`, set while the model is not live). Written at every
 * checkpoint and at the end; a failed write is logged, never fatal.
 */
export class Progress {
  /** What the run waits for (the model's state, queue position and ETA), or null. */
  waitingFor: string | null = null;
  /** When the batch started running (its `inProgressAt`), once it runs. */
  startedAt: Date | null = null;
  private readonly rate: { at: number; processed: number }[] = [];

  constructor(
    private readonly res: RunResources,
    /** The batch's directory once it is open (nothing is written before). */
    private readonly dir: () => FileHandle | undefined,
    /** Wall-clock milliseconds for the rate (the batch's clock dates the file). */
    private readonly wallClock: () => number = Date.now,
  ) {}

  /** Lines per second over about the last minute. */
  linesPerSecond(processed: number): number {
    const now = this.wallClock();
    this.rate.push({ at: now, processed });
    while (this.rate.length > 2 && (this.rate[0] as { at: number }).at < now - 60_000) this.rate.shift();
    const first = this.rate[0] as { at: number; processed: number };
    const seconds = (now - first.at) / 1000;
    return seconds > 0 ? Math.max(0, (processed - first.processed) / seconds) : 0;
  }

  async write(status: BatchStatus): Promise<void> {
    const { batch, counts } = this.res;
    const dir = this.dir();
    if (!batch.progressPath || !dir) return;
    const processed = counts.completed + counts.failed;
    const rate = this.linesPerSecond(processed);
    const remaining = Math.max(0, batch.totalCount - processed);
    await writeProgress(dir, path.basename(batch.progressPath), {
      batch_id: batch.id,
      status,
      model: batch.model,
      total: batch.totalCount,
      completed: counts.completed,
      failed: counts.failed,
      lines_processed: processed,
      rate_per_second: Math.round(rate * 10) / 10,
      eta_seconds: status === "in_progress" && rate > 0 ? Math.round(remaining / rate) : null,
      waiting_for: this.waitingFor,
      started_at: this.startedAt?.toISOString() ?? null,
      updated_at: new Date(this.res.now()).toISOString(),
    }).catch((error) => this.res.log.warn({ err: error }, "batch: could not write progress.json"));
  }
}
