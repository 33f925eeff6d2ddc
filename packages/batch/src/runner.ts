import { randomBytes } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type {
  BatchEndpoint,
  BatchError,
  BatchSettings,
  BatchStatus,
  Clock,
  ResolvedModel,
  SwitchyardConfig,
} from "@switchyard/core";
import type { Database, Prisma } from "@switchyard/db";
import { adapterFor, type EngineAdapterOptions } from "@switchyard/engines";
import type { Scheduler } from "@switchyard/scheduler";
import type { Logger } from "pino";
import { type Dispatcher, errors as undiciErrors } from "undici";
import { type BatchFileRefs, descriptorPath, reopen } from "./batch-files";
import { type CallResult, UpstreamCall } from "./call";
import { AdaptiveConcurrency } from "./concurrency";
import type { FileStore } from "./files";
import { type InputLine, readRequestLines } from "./lines";
import type { BatchMetrics } from "./metrics";
import { OutputFile, writeProgress } from "./output";
import { outputFileIds } from "./paths-layout";
import { closeAll, makeDirAt, openDirAt, refOfHandle, UnsafePathError } from "./safe-fs";
import { MAX_REPORTED, validateBatchFile } from "./validate";

/** The batch row as the runner reads it. */
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
}

export interface BatchUsage {
  batchId: string;
  userId: string;
  model: string;
  cluster: string;
  route: string;
  status: number;
  promptTokens: number;
  completionTokens: number;
  latencyMs: number;
  requestId: string;
}

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
  onUsage?: ((usage: BatchUsage) => void) | undefined;
  /** The worker running this batch: written on the batch's row with every checkpoint. */
  workerId: string;
}

type Interruption = "cancel" | "expire" | "stop" | "lost";

interface Finished {
  customId: string;
  /** A results-file line, or an errors-file line. */
  line: string;
  ok: boolean;
  promptTokens: number;
  completionTokens: number;
}

/** Statuses a model server uses to say "not now": retried with backoff. */
const TRANSIENT = new Set([408, 425, 429, 500, 502, 503, 504]);
/** How far ahead of the first unfinished line requests may run (bounds what waits to be written). */
const WINDOW = 4096;
const HOLD_MS = 120_000;

/**
 * Output line ids: a random prefix per run and the line's index (one random draw per run, not
 * per line), so the ids in a results file follow its order like the lines do.
 */
class LineIds {
  private readonly prefix = `batch_req_${randomBytes(8).toString("hex")}`;
  of(index: number): string {
    return `${this.prefix}${index.toString(16).padStart(8, "0")}`;
  }
}

function tokensOf(body: unknown): { prompt: number; completion: number } {
  const usage = (body as { usage?: Record<string, unknown> } | null)?.usage;
  if (!usage || typeof usage !== "object") return { prompt: 0, completion: 0 };
  const prompt = Number(usage.prompt_tokens ?? usage.input_tokens ?? 0) || 0;
  const completion = Number(usage.completion_tokens ?? usage.output_tokens ?? 0) || 0;
  return { prompt, completion };
}

function retryAfterMs(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.min(60_000, Math.max(0, seconds * 1000));
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.min(60_000, Math.max(0, date - Date.now()));
}

function isTimeout(error: unknown): boolean {
  return (
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    error instanceof undiciErrors.ConnectTimeoutError
  );
}

const CHECKPOINT = `UPDATE "batches" SET "cursorLine" = $2, "resultsBytes" = $3, "errorsBytes" = $4,
  "completedCount" = $5, "failedCount" = $6, "promptTokens" = $7, "completionTokens" = $8,
  "leaseUntil" = $9, "workerId" = $10
WHERE "id" = $1 AND "status" IN ('in_progress', 'cancelling') RETURNING "status"::text AS "status"`;

/**
 * One batch, from wherever it stands to a terminal status (or until the worker stops).
 *
 * Exactly once: answers are written in input order. A line is appended to the results or the
 * errors file only when every line before it is, and a checkpoint fsyncs both files and then
 * stores (resume line, both files' lengths, counts) in one UPDATE. On resume both files are cut
 * back to the stored lengths and the run starts at the stored line, so a kill -9 at any moment
 * neither loses nor repeats a line. Requests run ahead of the first unfinished line by at most
 * `WINDOW` lines, so what waits in memory is bounded however large the file.
 */
export class BatchRun {
  private interrupted: Interruption | undefined;
  private readonly interruptController = new AbortController();
  /** Lines whose request runs now, with the call in progress (if one is) to abort on interrupt. */
  private readonly inflight = new Map<number, { call: UpstreamCall | undefined }>();
  private readonly finished = new Map<number, Finished>();
  /** custom_id of every started line not yet written (for the expired lines' error entries). */
  private readonly dispatched = new Map<number, string>();
  private reader: AsyncGenerator<InputLine> | undefined;
  private exhausted = false;
  private pumping = false;
  private next = 0;
  private written = 0;
  private counts = { completed: 0, failed: 0, prompt: 0, completion: 0 };
  private results!: OutputFile;
  private errors!: OutputFile;
  private limiter!: AdaptiveConcurrency;
  private model!: ResolvedModel;
  private upstreamName = "";
  private idle: (() => void) | undefined;
  private checkpointing: Promise<void> = Promise.resolve();
  private waiting: Promise<void> | undefined;
  private waitingFor: string | null = null;
  private readonly rate: { at: number; processed: number }[] = [];
  private readonly log: Logger;
  private startedAt: Date | null = null;
  private readonly lineIds = new LineIds();
  private counters!: { completed: { inc(): void }; failed: { inc(): void }; retried: { inc(): void } };

  private outputLine(
    index: number,
    customId: string,
    response: { status_code: number; request_id: string; body: unknown } | null,
    error: { code: string; message: string } | null,
  ): string {
    return JSON.stringify({ id: this.lineIds.of(index), custom_id: customId, response, error });
  }

  private batch!: BatchRecord;
  /** The input file, opened once without following symlinks and checked; read through its descriptor. */
  private inputHandle: FileHandle | undefined;
  /** The batch's own output directory, opened once and checked; its files are opened through it. */
  private dirHandle: FileHandle | undefined;

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
    this.interrupt("cancel");
  }

  /** The worker is shutting down: checkpoint and leave the batch to resume later. */
  stop(): void {
    this.interrupt("stop");
  }

  /** Another worker may own the batch now: stop writing at once. */
  lost(): void {
    this.interrupt("lost");
  }

  private interrupt(reason: Interruption): void {
    if (this.interrupted === "lost" || this.interrupted === reason) return;
    // A stop never overrides a cancel or expiry already under way; losing the lock overrides all.
    if (this.interrupted && reason === "stop") return;
    this.interrupted = reason;
    this.interruptController.abort();
    const why = new Error(
      `the batch was ${reason === "cancel" ? "cancelled" : reason === "expire" ? "expired" : "stopped"}`,
    );
    for (const flight of this.inflight.values()) flight.call?.abort(why);
    this.checkIdle();
  }

  /** Another worker may own the batch: nothing more may be written (a method, so checks after awaits are not narrowed away). */
  private isLost(): boolean {
    return this.interrupted === "lost";
  }

  private get now(): number {
    return this.deps.clock.now();
  }

  async run(): Promise<void> {
    const start = await this.reload();
    if (!start) return;
    if (!(await this.openFiles())) return;
    try {
      await this.runOpened();
    } finally {
      await closeAll(this.inputHandle, this.dirHandle);
      this.inputHandle = this.dirHandle = undefined;
    }
  }

  private get refs(): BatchFileRefs | null {
    return (this.batch.fileRefs as BatchFileRefs | null) ?? null;
  }

  private async saveRefs(more: Partial<BatchFileRefs>): Promise<void> {
    const next: BatchFileRefs = { ...(this.refs ?? {}), ...more };
    if (next.creating === undefined) delete next.creating;
    await this.deps.db.prisma.batch.update({
      where: { id: this.batch.id },
      data: { fileRefs: next as unknown as Prisma.InputJsonValue },
    });
    this.batch.fileRefs = next;
  }

  /**
   * Open the input and the batch's own directory, never through a symlink: each from its
   * allowed directory one name at a time, and each must be what was checked when the batch was
   * created (same device and inode). On the first run the directory is created here, and must
   * not exist yet. Anything else fails the batch; nothing is read or written.
   */
  private async openFiles(): Promise<boolean> {
    const refs = this.refs;
    const filesDir = this.deps.files.dir;
    try {
      if (this.batch.status === "validating" || this.batch.status === "in_progress") {
        this.inputHandle = await reopen(this.batch.inputPath, "file", refs?.input, refs?.input, filesDir);
      }
      if (this.batch.resultsPath) {
        const dirPath = path.dirname(this.batch.resultsPath);
        const where = refs?.folder ? { base: refs.folder.base, root: refs.folder.root } : undefined;
        if (refs?.dir) {
          this.dirHandle = await reopen(dirPath, "dir", where, refs.dir, filesDir);
        } else {
          const folder = await reopen(path.dirname(dirPath), "dir", where, refs?.folder, filesDir);
          try {
            if (refs?.folder && refs.creating !== "dir") {
              await this.saveRefs({ creating: "dir" });
              this.dirHandle = await makeDirAt(folder, path.basename(dirPath), dirPath);
              await this.shareWithFolderGroup(folder, this.dirHandle);
            } else {
              // Created before files were recorded, or by a run killed before it recorded it.
              this.dirHandle = await this.adoptDir(folder, dirPath);
            }
          } finally {
            await closeAll(folder);
          }
          await this.saveRefs({ dir: await refOfHandle(this.dirHandle), creating: undefined });
        }
      }
      return true;
    } catch (error) {
      const reason = error instanceof UnsafePathError ? error.message : (error as Error).message;
      this.log.warn({ reason }, "batch: its files cannot be used safely");
      await this.fail(`its files cannot be used safely: ${reason}`);
      await closeAll(this.inputHandle, this.dirHandle);
      this.inputHandle = this.dirHandle = undefined;
      return false;
    }
  }

  /**
   * The batch's directory takes the group of the folder it is in, with the set-group-id bit so
   * its files do too: a project's members read the results the service wrote into the project's
   * space (0640), whether or not the project folder itself is set-group-id. Possible when the
   * service account is in that group, as it is when it may write into a group's folder at all;
   * otherwise the directory keeps the service's group.
   */
  private async shareWithFolderGroup(folder: FileHandle, dir: FileHandle): Promise<void> {
    const [outer, inner] = await Promise.all([folder.stat(), dir.stat()]);
    if (outer.gid === inner.gid && (inner.mode & 0o2000) !== 0) return;
    try {
      await dir.chown(inner.uid, outer.gid);
      await dir.chmod(0o2755);
    } catch (error) {
      this.log.warn({ err: error, gid: outer.gid }, "batch: cannot give its directory the output folder's group");
    }
  }

  /**
   * A directory this service may have made without recording it (a batch created before files
   * were recorded, or a run killed between making and recording it): taken over only if this
   * service owns it and nobody else may write in it; made now when missing.
   */
  private async adoptDir(folder: FileHandle, dirPath: string): Promise<FileHandle> {
    let dir: FileHandle;
    try {
      dir = await openDirAt(folder, path.basename(dirPath), dirPath);
    } catch (error) {
      if (error instanceof UnsafePathError && error.reason === "missing") {
        return makeDirAt(folder, path.basename(dirPath), dirPath);
      }
      throw error;
    }
    const info = await dir.stat();
    if (info.uid !== process.geteuid?.() || (info.mode & 0o022) !== 0) {
      await closeAll(dir);
      throw new UnsafePathError("changed", dirPath);
    }
    return dir;
  }

  /** The input, read through the descriptor opened and checked above. */
  private get inputSource(): string {
    if (!this.inputHandle) throw new Error("the input file is not open");
    return descriptorPath(this.inputHandle);
  }

  private async runOpened(): Promise<void> {
    this.model = this.deps.config.models.find(
      (m) => m.cluster === this.batch.clusterName && m.id === this.batch.model,
    ) as ResolvedModel;
    if (!this.model && this.batch.model === "" && this.batch.status === "validating") {
      // No line named a model when the batch was created: validation names each line at fault.
      await this.validate();
      return;
    }
    if (!this.model) {
      await this.fail(`model '${this.batch.model}' is no longer in the catalog of cluster '${this.batch.clusterName}'`);
      return;
    }
    this.upstreamName = adapterFor(this.model, this.deps.engines).upstreamModelName(this.model);
    const { metrics } = this.deps;
    this.counters = {
      completed: metrics.requests.labels(this.batch.model, "completed"),
      failed: metrics.requests.labels(this.batch.model, "failed"),
      retried: metrics.retries.labels(this.batch.model),
    };
    if (this.batch.status === "validating" && !(await this.validate())) return;
    if (this.batch.status === "in_progress") await this.execute();
    else if (this.batch.status === "cancelling") await this.recoverCancelled();
    else if (this.batch.status === "finalizing") await this.recoverFinalizing();
  }

  private async reload(): Promise<boolean> {
    const row = await this.deps.db.prisma.batch.findUnique({ where: { id: this.id } });
    if (!row) return false;
    this.batch = row as BatchRecord;
    return true;
  }

  // ---- validation ----------------------------------------------------------------------

  private async validate(): Promise<boolean> {
    const names = new Set(this.model ? [this.model.id, ...this.model.aliases] : []);
    const result = await validateBatchFile(this.inputSource, {
      ...(this.batch.api === "openai" ? { endpoint: this.batch.endpoint as BatchEndpoint } : {}),
      modelNames: names,
      model: this.model?.id ?? "",
      maxLines: this.deps.settings.maxLines,
      maxBytes: this.deps.settings.maxFileBytes,
      maxLineBytes: this.deps.settings.maxLineBytes,
    }).catch((error: Error) => ({
      ok: false,
      lines: 0,
      endpoint: null,
      errorCount: 1,
      errors: [
        {
          code: "unreadable_file",
          message: `The input file cannot be read: ${error.message}`,
          param: null,
          line: null,
        },
      ],
    }));
    if (!result.ok) {
      const errors: BatchError[] = [...result.errors];
      if (result.errorCount > errors.length) {
        errors.push({
          code: "more_errors",
          message: `${result.errorCount - errors.length} more problems are not listed (the first ${MAX_REPORTED} are).`,
          param: null,
          line: null,
        });
      }
      const updated = await this.deps.db.prisma.batch.updateMany({
        where: { id: this.batch.id, status: "validating" },
        data: { status: "failed", failedAt: new Date(this.now), errors, totalCount: result.lines },
      });
      if (updated.count === 1) {
        this.log.info({ problems: result.errorCount, lines: result.lines }, "batch: the file failed validation");
        this.batch.status = "failed";
        await this.progress("failed");
      } else {
        await this.reload();
        if (this.batch.status === "cancelling") await this.recoverCancelled();
      }
      return false;
    }
    const updated = await this.deps.db.prisma.batch.updateMany({
      where: { id: this.batch.id, status: "validating" },
      data: {
        status: "in_progress",
        inProgressAt: new Date(this.now),
        totalCount: result.lines,
        ...(result.endpoint ? { endpoint: result.endpoint } : {}),
      },
    });
    await this.reload();
    if (updated.count !== 1) {
      if (this.batch.status === "cancelling") await this.recoverCancelled();
      return false;
    }
    this.log.info({ lines: result.lines }, "batch: validated; running");
    return true;
  }

  // ---- the run -------------------------------------------------------------------------

  private async openOutputs(): Promise<void> {
    const dir = this.dirHandle;
    if (!dir) throw new Error("the batch's output directory is not open");
    const resultsPath = this.batch.resultsPath as string;
    const errorsPath = this.batch.errorsPath as string;
    // Who may read them: `world` mode's folders are the service's, so results are readable by
    // all (as its inputs must be); otherwise the group of the batch's directory (see openFiles).
    const mode = this.deps.settings.fileAccess === "world" ? 0o644 : 0o640;
    this.results = new OutputFile(dir, path.basename(resultsPath), resultsPath, mode);
    this.errors = new OutputFile(dir, path.basename(errorsPath), errorsPath, mode);
    // Created on the first run (they must not exist), the recorded files on every later one;
    // a batch from before files were recorded takes over what is in its directory.
    // A run killed between creating them and recording them takes over what it created: its
    // directory is verified to be this service's alone, so nothing else can have put them there.
    const refs = this.refs;
    const adopt = refs?.folder === undefined || refs.creating === "outputs" ? "adopt" : undefined;
    if (!refs?.results && !adopt) await this.saveRefs({ creating: "outputs" });
    const results = await this.results.openAt(Number(this.batch.resultsBytes), refs?.results ?? adopt);
    const errors = await this.errors.openAt(Number(this.batch.errorsBytes), refs?.errors ?? adopt);
    if (!refs?.results || !refs.errors) await this.saveRefs({ results, errors, creating: undefined });
    this.next = this.written = this.batch.cursorLine;
    this.counts = {
      completed: this.batch.completedCount,
      failed: this.batch.failedCount,
      prompt: Number(this.batch.promptTokens),
      completion: Number(this.batch.completionTokens),
    };
  }

  private ceiling(): number {
    const { settings, scheduler } = this.deps;
    const perReplica = Math.max(1, Math.floor(settings.replicaConcurrency * (1 - settings.interactiveShare)));
    const replicas = scheduler
      .deployments()
      .filter(
        (d) =>
          d.state === "live" && d.cluster === this.batch.clusterName && scheduler.modelOf(d)?.id === this.batch.model,
      ).length;
    const share = Math.max(1, this.deps.sharing(this.batch.clusterName, this.batch.model));
    return Math.max(1, Math.floor((perReplica * Math.max(1, replicas)) / share));
  }

  private async execute(): Promise<void> {
    try {
      await this.openOutputs();
    } catch (error) {
      await this.fail(`cannot resume: ${(error as Error).message}`);
      return;
    }
    this.startedAt = this.batch.inProgressAt;
    this.limiter = new AdaptiveConcurrency(this.deps.settings.initialConcurrency, this.ceiling());
    this.reader = readRequestLines(this.inputSource, {
      skip: this.batch.cursorLine,
      maxLineBytes: this.deps.settings.maxLineBytes,
    });
    const { scheduler } = this.deps;
    void scheduler.ensureLive(this.batch.clusterName, this.batch.model).catch(() => {});
    await scheduler.holdForBatch(this.batch.clusterName, this.batch.model, this.now + HOLD_MS).catch(() => {});
    let lastHold = Date.now();
    const interval = Math.max(50, this.deps.settings.checkpointInterval * 1000);
    // Labelled by model, not batch id: batch ids would tell anyone who scrapes who runs what.
    const concurrency = this.deps.metrics.concurrency.labels(this.batch.model);
    let shownLimit = 0;
    const timer = setInterval(() => {
      if (Date.now() - lastHold > 30_000) {
        lastHold = Date.now();
        void scheduler.holdForBatch(this.batch.clusterName, this.batch.model, this.now + HOLD_MS).catch(() => {});
      }
      this.limiter.setCeiling(this.ceiling());
      concurrency.inc(this.limiter.limit - shownLimit);
      shownLimit = this.limiter.limit;
      this.queueCheckpoint();
    }, interval);
    const drained = new Promise<void>((resolve) => {
      this.idle = resolve;
    });
    this.pump();
    await drained;
    clearInterval(timer);
    concurrency.dec(shownLimit);
    await this.checkpointing.catch(() => {});
    switch (this.interrupted) {
      case undefined:
        await this.finalize();
        break;
      case "cancel":
        await this.finishCancelled();
        break;
      case "expire":
        await this.finishExpired();
        break;
      case "stop":
        await this.checkpoint().catch((error) => this.log.warn({ err: error }, "batch: last checkpoint failed"));
        break;
      case "lost":
        break;
    }
    await this.reader.return(undefined);
    await this.closeOutputs();
    await scheduler.holdForBatch(this.batch.clusterName, this.batch.model, this.now).catch(() => {});
  }

  private async closeOutputs(): Promise<void> {
    await this.results?.close().catch(() => {});
    await this.errors?.close().catch(() => {});
  }

  /** Start requests while the limit, the window and the input allow. */
  private pump(): void {
    if (this.pumping || this.interrupted || this.exhausted) return;
    this.pumping = true;
    void (async () => {
      try {
        while (
          !this.interrupted &&
          !this.exhausted &&
          this.inflight.size < this.limiter.limit &&
          this.next - this.written < WINDOW
        ) {
          const item = await (this.reader as AsyncGenerator<InputLine>).next();
          if (item.done) {
            this.exhausted = true;
            break;
          }
          this.start(this.next++, item.value);
        }
      } catch (error) {
        this.log.error({ err: error }, "batch: reading the input failed");
        this.interrupt("stop");
      } finally {
        this.pumping = false;
        this.checkIdle();
      }
    })();
  }

  private checkIdle(): void {
    if (!this.idle || this.pumping || this.inflight.size > 0) return;
    if (this.interrupted || (this.exhausted && this.finished.size === 0)) {
      const done = this.idle;
      this.idle = undefined;
      done();
    }
  }

  private start(index: number, input: InputLine): void {
    const request = JSON.parse(input.text) as { custom_id: string; body: Record<string, unknown> };
    const flight = { call: undefined as UpstreamCall | undefined };
    this.inflight.set(index, flight);
    this.dispatched.set(index, request.custom_id);
    void this.send(index, request, flight)
      .catch((error: Error): Finished => {
        this.log.error({ err: error, line: input.line }, "batch: request failed unexpectedly");
        return {
          customId: request.custom_id,
          line: this.outputLine(index, request.custom_id, null, { code: "internal_error", message: error.message }),
          ok: false,
          promptTokens: 0,
          completionTokens: 0,
        };
      })
      .then((outcome) => {
        this.inflight.delete(index);
        if (outcome) {
          this.finished.set(index, outcome);
          this.advance();
        }
        this.pump();
        this.checkIdle();
      });
  }

  /** Move the finished lines at the head of the window into the output buffers. */
  private advance(): void {
    if (this.interrupted === "lost") return;
    for (;;) {
      const head = this.finished.get(this.written);
      if (!head) break;
      this.finished.delete(this.written);
      this.dispatched.delete(this.written);
      this.written++;
      this.account(head);
    }
    if (this.results.bufferedBytes + this.errors.bufferedBytes > 8 * 1024 * 1024) this.queueCheckpoint();
  }

  private account(outcome: Finished): void {
    if (outcome.ok) {
      this.results.append(outcome.line);
      this.counts.completed++;
    } else {
      this.errors.append(outcome.line);
      this.counts.failed++;
    }
    this.counts.prompt += outcome.promptTokens;
    this.counts.completion += outcome.completionTokens;
  }

  /** One request with retries; undefined when the batch was interrupted before it finished. */
  private async send(
    index: number,
    request: { custom_id: string; body: Record<string, unknown> },
    flight: { call: UpstreamCall | undefined },
  ): Promise<Finished | undefined> {
    const { settings } = this.deps;
    const body =
      request.body.model === this.upstreamName ? request.body : { ...request.body, model: this.upstreamName };
    const payload = JSON.stringify(body);
    const ourId = `${this.batch.id}-${index}`;
    let last: {
      code: string;
      message: string;
      response: { status_code: number; request_id: string; body: unknown } | null;
    } = { code: "upstream_error", message: "no attempt was made", response: null };
    let retryAfter: number | undefined;
    for (let attempt = 0; attempt <= settings.retries; attempt++) {
      if (this.interrupted) return undefined;
      if (attempt > 0) {
        this.counters.retried.inc();
        const backoff = Math.min(30_000, 500 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
        try {
          await sleep(Math.max(backoff, retryAfter ?? 0), undefined, { signal: this.interruptController.signal });
        } catch {
          return undefined;
        }
      }
      const replica = await this.replica();
      if (!replica) return undefined;
      const started = performance.now();
      const call = new UpstreamCall();
      flight.call = call;
      let answer: CallResult;
      try {
        this.deps.pool(replica.baseUrl).dispatch(
          {
            path: this.batch.endpoint,
            method: "POST",
            headers: replica.authorization
              ? { "content-type": "application/json", "x-request-id": ourId, authorization: replica.authorization }
              : { "content-type": "application/json", "x-request-id": ourId },
            body: payload,
            headersTimeout: settings.requestTimeout * 1000,
            bodyTimeout: settings.requestTimeout * 1000,
          },
          call,
        );
        answer = await call.done;
      } catch (error) {
        if (this.interrupted) return undefined;
        this.limiter.overload();
        last = isTimeout(error)
          ? {
              code: "upstream_timeout",
              message: `No answer from the model server within ${settings.requestTimeout} s.`,
              response: null,
            }
          : {
              code: "upstream_unreachable",
              message: `The model server could not be reached: ${(error as Error).message || "connection failed"}.`,
              response: null,
            };
        continue;
      } finally {
        flight.call = undefined;
        replica.release();
      }
      const latencyMs = performance.now() - started;
      const given = answer.headers["x-request-id"];
      const requestId = typeof given === "string" && given ? given : ourId;
      retryAfter = retryAfterMs(answer.headers["retry-after"]);
      const text = answer.body.toString("utf8");
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // kept as text in the error line
      }
      if (answer.status === 200 && typeof parsed === "object" && parsed !== null) {
        this.limiter.success(latencyMs);
        const tokens = tokensOf(parsed);
        this.counters.completed.inc();
        this.usage(200, tokens, latencyMs, requestId);
        // The server's own JSON goes in as it came (re-serialised only if it spans lines).
        const raw = text.includes("\n") ? JSON.stringify(parsed) : text;
        return {
          customId: request.custom_id,
          line: `{"id":"${this.lineIds.of(index)}","custom_id":${JSON.stringify(request.custom_id)},"response":{"status_code":200,"request_id":${JSON.stringify(requestId)},"body":${raw}},"error":null}`,
          ok: true,
          promptTokens: tokens.prompt,
          completionTokens: tokens.completion,
        };
      }
      const response = { status_code: answer.status, request_id: requestId, body: parsed };
      if (answer.status === 200) {
        last = {
          code: "invalid_upstream_response",
          message: "The model server's answer is not a JSON object.",
          response,
        };
        break;
      }
      if (TRANSIENT.has(answer.status)) {
        if (answer.status === 429 || answer.status === 503) this.limiter.overload();
        else this.limiter.success(latencyMs);
        last = {
          code: answer.status === 429 ? "rate_limited" : "upstream_error",
          message: `The model server answered ${answer.status} ${settings.retries + 1} times.`,
          response,
        };
        continue;
      }
      this.limiter.success(latencyMs);
      const message =
        (parsed as { error?: { message?: unknown } } | null)?.error?.message ??
        (parsed as { message?: unknown } | null)?.message;
      last = {
        code: "model_server_rejected",
        message: typeof message === "string" ? message : `The model server answered ${answer.status}.`,
        response,
      };
      break;
    }
    this.counters.failed.inc();
    this.usage(last.response?.status_code ?? 502, { prompt: 0, completion: 0 }, 0, ourId);
    return {
      customId: request.custom_id,
      line: this.outputLine(index, request.custom_id, last.response, { code: last.code, message: last.message }),
      ok: false,
      promptTokens: 0,
      completionTokens: 0,
    };
  }

  private usage(status: number, tokens: { prompt: number; completion: number }, latencyMs: number, requestId: string) {
    this.deps.onUsage?.({
      batchId: this.batch.id,
      userId: this.batch.userId,
      model: this.batch.model,
      cluster: this.batch.clusterName,
      route: "/v1/batches",
      status,
      promptTokens: tokens.prompt,
      completionTokens: tokens.completion,
      latencyMs: Math.round(latencyMs),
      requestId,
    });
  }

  /** A live replica; when there is none, start the model and wait (a batch waits, it does not fail). */
  private async replica(): Promise<ReturnType<Scheduler["acquire"]>> {
    const { scheduler } = this.deps;
    for (;;) {
      const replica = scheduler.acquire(this.batch.clusterName, this.batch.model);
      if (replica) {
        this.waitingFor = null;
        return replica;
      }
      if (this.interrupted) return undefined;
      this.waiting ??= this.waitForModel().finally(() => {
        this.waiting = undefined;
      });
      await this.waiting;
    }
  }

  private async waitForModel(): Promise<void> {
    const { scheduler } = this.deps;
    const availability = await scheduler.ensureLive(this.batch.clusterName, this.batch.model).catch(() => undefined);
    if (availability && availability.status !== "live") {
      const position = availability.queuePosition ? `, position ${availability.queuePosition} in the queue` : "";
      const eta = availability.etaSeconds !== null ? `, about ${Math.ceil(availability.etaSeconds)} s to go` : "";
      this.waitingFor = `model ${this.batch.model} is ${availability.status}${position}${eta}${availability.reason ? ` (${availability.reason})` : ""}`;
    }
    await sleep(250, undefined, { signal: this.interruptController.signal }).catch(() => {});
  }

  // ---- checkpoints ---------------------------------------------------------------------

  private queueCheckpoint(): void {
    this.checkpointing = this.checkpointing
      .then(() => this.checkpoint())
      .catch((error) => {
        this.log.error({ err: error }, "batch: checkpoint failed; stopping (it resumes from the last good one)");
        this.interrupt("stop");
      });
  }

  /** fsync what is written, then save where it ends; react to a cancel or the expiry. */
  private async checkpoint(): Promise<void> {
    if (this.interrupted === "lost") return;
    const results = this.results.take();
    const errors = this.errors.take();
    const counts = { ...this.counts };
    const cursor = this.written;
    const resultsBytes = await this.results.write(results);
    const errorsBytes = await this.errors.write(errors);
    if (this.isLost()) return;
    const rows = await this.deps.db.query<{ status: BatchStatus }>(CHECKPOINT, [
      this.batch.id,
      cursor,
      resultsBytes,
      errorsBytes,
      counts.completed,
      counts.failed,
      counts.prompt,
      counts.completion,
      new Date(this.now + 60_000),
      this.deps.workerId,
    ]);
    const status = rows[0]?.status;
    if (status === "cancelling") this.interrupt("cancel");
    else if (status !== "in_progress") this.interrupt("lost");
    else if (this.batch.expiresAt && this.now >= this.batch.expiresAt.getTime()) this.interrupt("expire");
    if (!this.interrupted || this.interrupted === "stop") await this.progress("in_progress");
  }

  private linesPerSecond(processed: number): number {
    const now = Date.now();
    this.rate.push({ at: now, processed });
    while (this.rate.length > 2 && (this.rate[0] as { at: number }).at < now - 60_000) this.rate.shift();
    const first = this.rate[0] as { at: number; processed: number };
    const seconds = (now - first.at) / 1000;
    return seconds > 0 ? Math.max(0, (processed - first.processed) / seconds) : 0;
  }

  private async progress(status: BatchStatus): Promise<void> {
    if (!this.batch.progressPath || !this.dirHandle) return;
    const processed = this.counts.completed + this.counts.failed;
    const rate = this.linesPerSecond(processed);
    const remaining = Math.max(0, this.batch.totalCount - processed);
    await writeProgress(this.dirHandle, path.basename(this.batch.progressPath), {
      batch_id: this.batch.id,
      status,
      model: this.batch.model,
      total: this.batch.totalCount,
      completed: this.counts.completed,
      failed: this.counts.failed,
      lines_processed: processed,
      rate_per_second: Math.round(rate * 10) / 10,
      eta_seconds: status === "in_progress" && rate > 0 ? Math.round(remaining / rate) : null,
      waiting_for: this.waitingFor,
      started_at: this.startedAt?.toISOString() ?? null,
      updated_at: new Date(this.now).toISOString(),
    }).catch((error) => this.log.warn({ err: error }, "batch: could not write progress.json"));
  }

  // ---- endings -------------------------------------------------------------------------

  /** Sync everything buffered and save it together with the final status. */
  private async settle(from: BatchStatus[], status: BatchStatus, fields: Record<string, unknown>): Promise<boolean> {
    const results = this.results.take();
    const errors = this.errors.take();
    const resultsBytes = await this.results.write(results);
    const errorsBytes = await this.errors.write(errors);
    const updated = await this.deps.db.prisma.batch.updateMany({
      where: { id: this.batch.id, status: { in: from } },
      data: {
        status,
        cursorLine: this.written,
        resultsBytes: BigInt(resultsBytes),
        errorsBytes: BigInt(errorsBytes),
        completedCount: this.counts.completed,
        failedCount: this.counts.failed,
        promptTokens: BigInt(this.counts.prompt),
        completionTokens: BigInt(this.counts.completion),
        ...fields,
      },
    });
    if (updated.count === 1) this.batch.status = status;
    return updated.count === 1;
  }

  private async outputFiles(): Promise<{ outputFileId: string | null; errorFileId: string | null }> {
    if (this.batch.api !== "openai") return { outputFileId: null, errorFileId: null };
    const ids = outputFileIds(this.batch.id);
    const name = path.basename(path.dirname(this.batch.resultsPath as string));
    let outputFileId: string | null = null;
    let errorFileId: string | null = null;
    if (this.counts.completed > 0) {
      await this.deps.files.register({
        id: ids.results,
        userId: this.batch.userId,
        filename: `${name}_output.jsonl`,
        path: this.batch.resultsPath as string,
      });
      outputFileId = ids.results;
    }
    if (this.counts.failed > 0) {
      await this.deps.files.register({
        id: ids.errors,
        userId: this.batch.userId,
        filename: `${name}_errors.jsonl`,
        path: this.batch.errorsPath as string,
      });
      errorFileId = ids.errors;
    }
    return { outputFileId, errorFileId };
  }

  private async finalize(): Promise<void> {
    if (!(await this.settle(["in_progress"], "finalizing", { finalizingAt: new Date(this.now) }))) {
      await this.reload();
      if (this.batch.status === "cancelling") await this.finishCancelled();
      return;
    }
    await this.completeFinalizing();
  }

  private async completeFinalizing(): Promise<void> {
    const files = await this.outputFiles();
    await this.deps.db.prisma.batch.updateMany({
      where: { id: this.batch.id, status: "finalizing" },
      data: { status: "completed", completedAt: new Date(this.now), ...files },
    });
    this.batch.status = "completed";
    this.waitingFor = null;
    await this.progress("completed");
    this.log.info({ completed: this.counts.completed, failed: this.counts.failed }, "batch: completed");
  }

  private async recoverFinalizing(): Promise<void> {
    await this.openOutputs();
    await this.completeFinalizing();
    await this.closeOutputs();
  }

  /** Keep every answer already received, in input order; drop what was still in flight. */
  private async finishCancelled(): Promise<void> {
    const pending = [...this.finished.entries()].sort((a, b) => a[0] - b[0]);
    this.finished.clear();
    for (const [, outcome] of pending) this.account(outcome);
    const at = new Date(this.now);
    await this.settle(["cancelling", "in_progress"], "cancelled", {
      cancelledAt: at,
      ...(await this.outputFilesAfter()),
    });
    this.waitingFor = null;
    await this.progress("cancelled");
    this.log.info({ completed: this.counts.completed, failed: this.counts.failed }, "batch: cancelled");
  }

  /** Output file ids as they will be once the buffered lines are synced by `settle`. */
  private async outputFilesAfter(): Promise<{ outputFileId: string | null; errorFileId: string | null }> {
    // settle() writes the buffers before its UPDATE; register() stats the file, so sync first.
    const results = this.results.take();
    const errors = this.errors.take();
    await this.results.write(results);
    await this.errors.write(errors);
    return this.outputFiles();
  }

  /** A cancel found at start (the process died while cancelling): the checkpoint is what was kept. */
  private async recoverCancelled(): Promise<void> {
    if (this.batch.resultsPath && this.batch.errorsPath) {
      await this.openOutputs();
      await this.settle(["cancelling"], "cancelled", {
        cancelledAt: new Date(this.now),
        ...(await this.outputFiles()),
      });
      await this.closeOutputs();
    } else {
      await this.deps.db.prisma.batch.updateMany({
        where: { id: this.batch.id, status: "cancelling" },
        data: { status: "cancelled", cancelledAt: new Date(this.now) },
      });
    }
    await this.progress("cancelled");
    this.log.info("batch: cancelled");
  }

  /** Past its completion window: answers received are kept, every other line goes to the errors file. */
  private async finishExpired(): Promise<void> {
    const expired = (index: number, customId: string) =>
      this.outputLine(index, customId, null, {
        code: "batch_expired",
        message: "The batch expired before this request was completed.",
      });
    for (let index = this.written; index < this.next; index++) {
      const done = this.finished.get(index);
      const customId = done?.customId ?? this.dispatched.get(index);
      if (done) this.account(done);
      else if (customId !== undefined)
        this.account({ customId, line: expired(index, customId), ok: false, promptTokens: 0, completionTokens: 0 });
    }
    this.finished.clear();
    this.written = this.next;
    let count = 0;
    for await (const input of this.reader as AsyncGenerator<InputLine>) {
      const customId = (JSON.parse(input.text) as { custom_id: string }).custom_id;
      this.account({
        customId,
        line: expired(this.written, customId),
        ok: false,
        promptTokens: 0,
        completionTokens: 0,
      });
      this.written++;
      if (++count % 10_000 === 0) {
        // bounded memory for a large remainder: sync as it goes (the status still says in_progress)
        await this.results.write(this.results.take());
        await this.errors.write(this.errors.take());
      }
    }
    const at = new Date(this.now);
    await this.settle(["in_progress", "cancelling"], "expired", { expiredAt: at, ...(await this.outputFilesAfter()) });
    this.waitingFor = null;
    await this.progress("expired");
    this.log.info({ completed: this.counts.completed, failed: this.counts.failed }, "batch: expired");
  }

  private async fail(reason: string): Promise<void> {
    await this.deps.db.prisma.batch.updateMany({
      where: { id: this.batch.id, status: { in: ["validating", "in_progress", "finalizing", "cancelling"] } },
      data: {
        status: "failed",
        failedAt: new Date(this.now),
        errors: [{ code: "batch_failed", message: reason, param: null, line: null }],
      },
    });
    this.batch.status = "failed";
    await this.progress("failed");
    this.log.error({ reason }, "batch: failed");
  }
}
