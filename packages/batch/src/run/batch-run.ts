import { Catalog, type ResolvedModel } from "@switchyard/core";
import { adapterFor } from "@switchyard/engines";
import type { Logger } from "pino";
import { AdaptiveConcurrency } from "../concurrency";
import { readRequestLines } from "../lines";
import { type BatchRecord, BatchStore } from "../store";
import { Checkpoints, resumeOutputs } from "./checkpoint";
import { Endings } from "./endings";
import { Interrupts } from "./interrupts";
import { RunFiles } from "./open-files";
import { LineFormat } from "./output-lines";
import { Progress } from "./progress";
import { LineRequests } from "./request";
import type { RunnerDeps, RunResources } from "./resources";
import { validateInput } from "./validation";
import { concurrencyCeiling, LineWindow } from "./window";

/** How long the model is held for the batch (renewed every 30 s while it runs). */
const HOLD_MS = 120_000;

/**
 * One batch, from wherever it stands to a terminal status (or until the worker stops).
 *
 * Exactly once: answers are written in input order. A line is appended to the results or the
 * errors file only when every line before it is, and a checkpoint fsyncs both files and then
 * stores (resume line, both files' lengths, counts) in one UPDATE. On resume both files are cut
 * back to the stored lengths and the run starts at the stored line, so a kill -9 at any moment
 * neither loses nor repeats a line. Requests run ahead of the first unfinished line by at most
 * `WINDOW` lines, so what waits in memory is bounded however large the file.
 *
 * This class only puts the parts of a run together (each in its own file beside this one,
 * sharing one `RunResources`): the files it opens, validation, the in-flight window, the
 * requests, the ordered output, checkpoints, progress and the endings.
 */
export class BatchRun {
  private readonly interrupts = new Interrupts();
  private readonly log: Logger;
  /** The batch's row, once loaded. */
  private batch: BatchRecord | undefined;

  constructor(
    readonly id: string,
    private readonly deps: RunnerDeps,
  ) {
    this.log = deps.logger.child({ batch: id });
  }

  /**
   * Which runs share a cap: cluster + model, once the batch is loaded (not the scheduler's
   * `modelKey`, which names a catalog entry).
   */
  get capShareKey(): string {
    return this.batch ? `${this.batch.clusterName}\u0000${this.batch.model}` : "";
  }

  /** Cancel asked in this process (the API also marks the row, for other processes). */
  cancel(): void {
    this.interrupts.interrupt("cancel");
  }

  /** The worker is shutting down: checkpoint and leave the batch to resume later. */
  stop(): void {
    this.interrupts.interrupt("stop");
  }

  /** Another worker may own the batch now: stop writing at once. */
  lost(): void {
    this.interrupts.interrupt("lost");
  }

  async run(): Promise<void> {
    const store = new BatchStore(this.deps.db);
    const batch = await store.load(this.id);
    if (!batch) return;
    this.batch = batch;
    const { clock } = this.deps;
    const res: RunResources = {
      deps: this.deps,
      store,
      batch,
      log: this.log,
      interrupts: this.interrupts,
      counts: { completed: 0, failed: 0, prompt: 0, completion: 0 },
      now: () => clock.now(),
    };
    const files = new RunFiles(res);
    const progress = new Progress(res, () => files.dir);
    const endings = new Endings(res, files, progress);
    try {
      await files.open();
    } catch (error) {
      const reason = (error as Error).message;
      this.log.warn({ reason }, "batch: its files cannot be used safely");
      await endings.fail(`its files cannot be used safely: ${reason}`);
      await files.close();
      return;
    }
    try {
      await this.runOpened(res, files, progress, endings);
    } finally {
      await files.close();
    }
  }

  private async runOpened(res: RunResources, files: RunFiles, progress: Progress, endings: Endings): Promise<void> {
    const { batch } = res;
    const model = Catalog.of(this.deps.config).findById(batch.clusterName, batch.model);
    if (!model && batch.model === "" && batch.status === "validating") {
      // No line named a model when the batch was created: validation names each line at fault.
      await validateInput(res, { files, model, endings, progress });
      return;
    }
    if (!model) {
      await endings.fail(`model '${batch.model}' is no longer in the catalog of cluster '${batch.clusterName}'`);
      return;
    }
    if (batch.status === "validating" && !(await validateInput(res, { files, model, endings, progress }))) return;
    if (batch.status === "in_progress") await this.execute(res, files, progress, endings, model);
    else if (batch.status === "cancelling") await endings.recoverCancelled();
    else if (batch.status === "finalizing") await endings.recoverFinalizing();
  }

  /** Run the lines from the checkpoint on, then end the batch as the run ended. */
  private async execute(
    res: RunResources,
    files: RunFiles,
    progress: Progress,
    endings: Endings,
    model: ResolvedModel,
  ): Promise<void> {
    const { batch, deps } = res;
    const { scheduler, settings } = deps;
    let output: Awaited<ReturnType<typeof resumeOutputs>>;
    try {
      output = await resumeOutputs(res, files);
    } catch (error) {
      await endings.fail(`cannot resume: ${(error as Error).message}`);
      return;
    }
    progress.startedAt = batch.inProgressAt;
    const format = new LineFormat();
    const limiter = new AdaptiveConcurrency(settings.initialConcurrency, concurrencyCeiling(res));
    const upstreamName = adapterFor(model, deps.engines).upstreamModelName(model);
    const requests = new LineRequests(res, { upstreamName, limiter, format, progress });
    const checkpoints = new Checkpoints(res, output, progress);
    const reader = readRequestLines(files.inputSource, { skip: batch.cursorLine, maxLineBytes: settings.maxLineBytes });
    const window = new LineWindow(res, { reader, output, requests, limiter, format });
    const hold = (until: number) => scheduler.holdForBatch(batch.clusterName, batch.model, until).catch(() => {});

    void scheduler.ensureLive(batch.clusterName, batch.model).catch(() => {});
    await hold(res.now() + HOLD_MS);
    let lastHold = Date.now();
    // Labelled by model, not batch id: batch ids would tell anyone who scrapes who runs what.
    const concurrency = deps.metrics.concurrency.labels(batch.model);
    let shownLimit = 0;
    const timer = setInterval(
      () => {
        if (Date.now() - lastHold > 30_000) {
          lastHold = Date.now();
          void hold(res.now() + HOLD_MS);
        }
        // Lines not sent yet are demand for the model (more replicas, when it may have them).
        scheduler.setBacklog(batch.id, batch.clusterName, batch.model, Math.max(0, batch.totalCount - window.next));
        limiter.setCeiling(concurrencyCeiling(res));
        concurrency.inc(limiter.limit - shownLimit);
        shownLimit = limiter.limit;
        checkpoints.queue();
      },
      Math.max(50, settings.checkpointInterval * 1000),
    );
    try {
      await window.drain();
    } finally {
      clearInterval(timer);
      scheduler.setBacklog(batch.id, batch.clusterName, batch.model, 0);
    }
    concurrency.dec(shownLimit);
    await checkpoints.settled();
    const run = { output, checkpoints, format };
    switch (res.interrupts.reason) {
      case undefined:
        await endings.finalize(run);
        break;
      case "cancel":
        await endings.finishCancelled(run);
        break;
      case "expire":
        await endings.finishExpired(run, window.next, reader);
        break;
      case "stop":
        await checkpoints.save().catch((error) => this.log.warn({ err: error }, "batch: last checkpoint failed"));
        break;
      case "lost":
        break;
    }
    await reader.return(undefined);
    await output.close();
    await hold(res.now());
  }
}
