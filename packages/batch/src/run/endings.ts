import path from "node:path";
import { batchLineError, batchStatusesBefore } from "@switchyard/core";
import type { InputLine } from "../lines";
import { outputFileIds } from "../output-layout";
import { Checkpoints, resumeOutputs } from "./checkpoint";
import type { RunFiles } from "./open-files";
import type { LineFormat, OutputLines } from "./output-lines";
import type { Progress } from "./progress";
import { type RunResources, reload } from "./resources";

type OutputFileIds = { outputFileId: string | null; errorFileId: string | null };

/** A run whose output is open: what an ending of a running batch writes through. */
export interface OpenRun {
  output: OutputLines;
  checkpoints: Checkpoints;
  format: LineFormat;
}

/**
 * How a batch ends: completed (through finalizing), cancelled, expired or failed, each a
 * compare-and-set of its status through the store with what the output holds, then the output
 * files registered (OpenAI batches) and a last progress.json. Also the endings a restarted
 * worker finishes for a batch whose process died midway (`recover...`).
 */
export class Endings {
  constructor(
    private readonly res: RunResources,
    private readonly files: RunFiles,
    private readonly progress: Progress,
  ) {}

  /** Every line is written: finalizing, then completed (or cancelled, if a cancel won the race). */
  async finalize(run: OpenRun): Promise<void> {
    if (!(await run.checkpoints.settle(["in_progress"], "finalizing", { finalizingAt: new Date(this.res.now()) }))) {
      await reload(this.res);
      if (this.res.batch.status === "cancelling") await this.finishCancelled(run);
      return;
    }
    await this.completeFinalizing(run.output);
  }

  /** A batch found finalizing at start: its output was complete, only the last step is left. */
  async recoverFinalizing(): Promise<void> {
    const output = await resumeOutputs(this.res, this.files);
    await this.completeFinalizing(output);
    await output.close();
  }

  private async completeFinalizing(output: OutputLines): Promise<void> {
    const { res } = this;
    const files = await this.outputFiles();
    await res.store.transition(res.batch.id, "finalizing", "completed", { completedAt: new Date(res.now()), ...files });
    res.batch.status = "completed";
    this.progress.waitingFor = null;
    await this.progress.write("completed");
    res.log.info({ completed: output.counts.completed, failed: output.counts.failed }, "batch: completed");
  }

  /** Keep every answer already received, in input order; drop what was still in flight. */
  async finishCancelled(run: OpenRun): Promise<void> {
    const { res } = this;
    for (const outcome of run.output.takeFinished()) run.output.append(outcome);
    const at = new Date(res.now());
    await run.checkpoints.settle(["cancelling", "in_progress"], "cancelled", {
      cancelledAt: at,
      ...(await this.outputFilesAfter(run.output)),
    });
    this.progress.waitingFor = null;
    await this.progress.write("cancelled");
    res.log.info({ completed: res.counts.completed, failed: res.counts.failed }, "batch: cancelled");
  }

  /** A cancel found at start (the process died while cancelling): the checkpoint is what was kept. */
  async recoverCancelled(): Promise<void> {
    const { res } = this;
    if (res.batch.resultsPath && res.batch.errorsPath) {
      const output = await resumeOutputs(res, this.files);
      await new Checkpoints(res, output, this.progress).settle(["cancelling"], "cancelled", {
        cancelledAt: new Date(res.now()),
        ...(await this.outputFiles()),
      });
      await output.close();
    } else {
      await res.store.transition(res.batch.id, "cancelling", "cancelled", { cancelledAt: new Date(res.now()) });
    }
    await this.progress.write("cancelled");
    res.log.info("batch: cancelled");
  }

  /**
   * Past its completion window: answers received are kept, every other line goes to the errors
   * file as `batch_expired` (those started, `next` and before, and the rest of the input).
   */
  async finishExpired(run: OpenRun, next: number, rest: AsyncIterable<InputLine>): Promise<void> {
    const { res } = this;
    const { output, format } = run;
    const expired = (index: number, customId: string) =>
      format.failed(index, customId, null, batchLineError("batch_expired", {}));
    for (let index = output.written; index < next; index++) {
      const done = output.takeOne(index);
      const customId = done?.customId ?? output.customIdOf(index);
      if (done) output.append(done);
      else if (customId !== undefined) output.append(expired(index, customId));
    }
    output.takeFinished();
    output.written = next;
    let count = 0;
    for await (const input of rest) {
      const customId = (JSON.parse(input.text) as { custom_id: string }).custom_id;
      output.append(expired(output.written, customId));
      output.written++;
      if (++count % 10_000 === 0) {
        // bounded memory for a large remainder: sync as it goes (the status still says in_progress)
        await output.cut().write();
      }
    }
    const at = new Date(res.now());
    await run.checkpoints.settle(["in_progress", "cancelling"], "expired", {
      expiredAt: at,
      ...(await this.outputFilesAfter(output)),
    });
    this.progress.waitingFor = null;
    await this.progress.write("expired");
    res.log.info({ completed: res.counts.completed, failed: res.counts.failed }, "batch: expired");
  }

  /** The batch cannot go on (its files, its model, its output): failed, with the reason as its error. */
  async fail(reason: string): Promise<void> {
    const { res } = this;
    await res.store.transition(res.batch.id, batchStatusesBefore("failed"), "failed", {
      failedAt: new Date(res.now()),
      errors: [{ code: "batch_failed", message: reason, param: null, line: null }],
    });
    res.batch.status = "failed";
    await this.progress.write("failed");
    res.log.error({ reason }, "batch: failed");
  }

  /** The output files of an OpenAI batch, registered as files its owner can download. */
  private async outputFiles(): Promise<OutputFileIds> {
    const { batch, counts, deps } = this.res;
    if (batch.api !== "openai") return { outputFileId: null, errorFileId: null };
    const ids = outputFileIds(batch.id);
    const name = path.basename(path.dirname(batch.resultsPath as string));
    const register = async (id: string, kind: "output" | "errors", file: string | null) => {
      await deps.files.register({ id, userId: batch.userId, filename: `${name}_${kind}.jsonl`, path: file as string });
      return id;
    };
    return {
      outputFileId: counts.completed > 0 ? await register(ids.results, "output", batch.resultsPath) : null,
      errorFileId: counts.failed > 0 ? await register(ids.errors, "errors", batch.errorsPath) : null,
    };
  }

  /** Output file ids as they will be once the buffered lines are synced by `settle`. */
  private async outputFilesAfter(output: OutputLines): Promise<OutputFileIds> {
    // settle() writes the buffers before its UPDATE; register() stats the file, so sync first.
    await output.cut().write();
    return this.outputFiles();
  }
}
