import path from "node:path";
import type { BatchStatus } from "@switchyard/core";
import { OutputFile } from "../output";
import type { TransitionFields } from "../store";
import type { Interruption } from "./interrupts";
import type { RunFiles } from "./open-files";
import { OutputLines } from "./output-lines";
import type { Progress } from "./progress";
import type { RunResources } from "./resources";

/** How long a checkpoint's lease on the batch lasts (it is renewed with every checkpoint). */
const LEASE_MS = 60_000;

/**
 * What a run does after a checkpoint found the batch's row in `status`: a cancel made by the
 * API (`cancelling`) is taken up, any status but running means the batch is not this run's
 * to write any more (`lost`), and a running batch past its completion window expires.
 */
export function interruptionAfterCheckpoint(
  status: BatchStatus | undefined,
  expiresAt: Date | null,
  now: number,
): Interruption | undefined {
  if (status === "cancelling") return "cancel";
  if (status !== "in_progress") return "lost";
  if (expiresAt && now >= expiresAt.getTime()) return "expire";
  return undefined;
}

/**
 * Resume: open the results and errors files at the checkpoint, cutting each back to the
 * length saved with it (whatever was written after it is dropped, so no line is there twice),
 * and start the counts and the written cursor where it left them.
 */
export async function resumeOutputs(res: RunResources, files: RunFiles): Promise<OutputLines> {
  const { batch, deps } = res;
  const dir = files.dir;
  if (!dir) throw new Error("the batch's output directory is not open");
  const resultsPath = batch.resultsPath as string;
  const errorsPath = batch.errorsPath as string;
  // Who may read them: `world` mode's folders are the service's, so results are readable by
  // all (as its inputs must be); otherwise the group of the batch's directory (see RunFiles).
  const mode = deps.settings.fileAccess === "world" ? 0o644 : 0o640;
  const results = new OutputFile(dir, path.basename(resultsPath), resultsPath, mode);
  const errors = new OutputFile(dir, path.basename(errorsPath), errorsPath, mode);
  // Created on the first run (they must not exist), the recorded files on every later one;
  // a batch from before files were recorded takes over what is in its directory.
  // A run killed between creating them and recording them takes over what it created: its
  // directory is verified to be this service's alone, so nothing else can have put them there.
  const refs = files.refs;
  const adopt = refs?.folder === undefined || refs.creating === "outputs" ? "adopt" : undefined;
  try {
    if (!refs?.results && !adopt) await files.saveRefs({ creating: "outputs" });
    const resultsRef = await results.openAt(Number(batch.resultsBytes), refs?.results ?? adopt);
    const errorsRef = await errors.openAt(Number(batch.errorsBytes), refs?.errors ?? adopt);
    if (!refs?.results || !refs.errors)
      await files.saveRefs({ results: resultsRef, errors: errorsRef, creating: undefined });
  } catch (error) {
    await results.close().catch(() => {});
    await errors.close().catch(() => {});
    throw error;
  }
  Object.assign(res.counts, {
    completed: batch.completedCount,
    failed: batch.failedCount,
    prompt: Number(batch.promptTokens),
    completion: Number(batch.completionTokens),
  });
  return new OutputLines(results, errors, res.counts, batch.cursorLine);
}

/**
 * Checkpoints of a running batch: fsync what is written, then save where it ends (line and
 * both files' lengths) and the counts in one UPDATE. They run one after another; a failed one
 * stops the run, which resumes from the last good one.
 */
export class Checkpoints {
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly res: RunResources,
    private readonly output: OutputLines,
    private readonly progress: Progress,
  ) {}

  /** Take a checkpoint after those already queued. */
  queue(): void {
    this.chain = this.chain
      .then(() => this.save())
      .catch((error) => {
        this.res.log.error({ err: error }, "batch: checkpoint failed; stopping (it resumes from the last good one)");
        this.res.interrupts.interrupt("stop");
      });
  }

  /** Resolves when the queued checkpoints are done. */
  async settled(): Promise<void> {
    await this.chain.catch(() => {});
  }

  /** fsync what is written, then save where it ends; react to a cancel or the expiry. */
  async save(): Promise<void> {
    const { res } = this;
    if (res.interrupts.isLost()) return;
    const cut = this.output.cut();
    const bytes = await cut.write();
    if (res.interrupts.isLost()) return;
    const status = await res.store.checkpoint(
      res.batch.id,
      {
        cursorLine: cut.cursorLine,
        ...bytes,
        completed: cut.counts.completed,
        failed: cut.counts.failed,
        promptTokens: cut.counts.prompt,
        completionTokens: cut.counts.completion,
        leaseUntil: new Date(res.now() + LEASE_MS),
        workerId: res.deps.workerId,
      },
      cut.usage,
      res.batch,
    );
    const next = interruptionAfterCheckpoint(status, res.batch.expiresAt, res.now());
    if (next) res.interrupts.interrupt(next);
    const reason = res.interrupts.reason;
    if (!reason || reason === "stop") await this.progress.write("in_progress");
  }

  /**
   * Sync everything buffered and save it together with a final status (compare-and-set from
   * `from`); false when the batch had moved on.
   */
  async settle(from: readonly BatchStatus[], to: BatchStatus, fields: TransitionFields): Promise<boolean> {
    const { res } = this;
    const cut = this.output.cut();
    const { resultsBytes, errorsBytes } = await cut.write();
    const moved = await res.store.transition(
      res.batch.id,
      from,
      to,
      {
        cursorLine: cut.cursorLine,
        resultsBytes: BigInt(resultsBytes),
        errorsBytes: BigInt(errorsBytes),
        completedCount: cut.counts.completed,
        failedCount: cut.counts.failed,
        promptTokens: BigInt(cut.counts.prompt),
        completionTokens: BigInt(cut.counts.completion),
        ...fields,
      },
      { usage: cut.usage, owner: res.batch },
    );
    if (moved) res.batch.status = to;
    return moved;
  }
}
