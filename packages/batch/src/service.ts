// Longer than most files here: the service is both front doors' one entry point (create with
// every check a user gets an answer to at once, list, read, cancel), and its parts share the
// same row, checks and lock; the views of a row are in views.ts.
import path from "node:path";
import {
  ACTIVE_BATCH_STATUSES,
  type Allocation,
  apiError,
  type BatchObject,
  type BatchPrecheck,
  type BatchPrecheckRequest,
  type BatchSettings,
  type BatchStatus,
  batchStatusesBefore,
  type Clock,
  type ClusterConfig,
  type CreateBatchRequest,
  canTransitionBatch,
  ENDED_BATCH_STATUSES,
  formatBytes,
  type ReferenceBatch,
  type ReferenceBatchDetail,
  type ReferenceBatchResult,
  type ReferenceBatchStatus,
  type ReferenceCreateBatch,
  type ResolvedModel,
  referenceStatus,
  statusesForReference,
} from "@switchyard/core";
import type { Database, Prisma, PrismaClientOrTransaction } from "@switchyard/db";
import type { Charge, Projects } from "@switchyard/usage";
import { type AccountLookup, cachedLookup, type FilePolicy } from "./access";
import type { BatchFileRefs } from "./batch-files";
import type { FileStore } from "./files";
import { scanRequestLines } from "./lines";
import { authoriseInput, authoriseOutputFolder } from "./paths";
import { newBatchId, type OutputLayout, openaiLayout, referenceLayout } from "./paths-layout";
import { BatchStore } from "./store";
import { type BatchRow, failureReason, finishedAt, toBatchObject, toReferenceBatch, toReferenceDetail } from "./views";

/** The model a batch runs, as the gateway resolved it (access and the batch capability checked). */
/** The lowest uid of a person's account (Debian's and most distributions' UID_MIN). */
const MIN_USER_UID = 1000;

export interface BatchTarget {
  model: ResolvedModel;
  cluster: ClusterConfig;
}

/** Resolves a model name (and the reference path's cluster/framework) for a user; throws 404/403/422. */
export type ResolveBatchTarget = (model: string, path?: { cluster: string; framework: string }) => BatchTarget;

/** What `checkBatchCreate` decides on. */
export interface BatchCreateCheck<R extends { model: string | undefined }> {
  /** The project named on create (`project`); without one, the user's only active project. */
  project?: string | undefined;
  /** The window asked for (the OpenAI API); the reference API takes the first one offered. */
  completionWindow?: string | undefined;
  /**
   * Where the batch's model comes from: the request (the precheck, the reference API), or the
   * input file (`POST /v1/batches`), which is read only once the cheaper checks have passed.
   * What it returns comes back to the caller beside the target.
   */
  read: () => Promise<R>;
  /** The reference API's cluster and framework, from its path. */
  path?: { cluster: string; framework: string } | undefined;
}

export interface BatchServiceDeps {
  db: Database;
  settings: BatchSettings;
  files: FileStore;
  clock: Clock;
  /** The directories a cluster's batches may use. */
  allowedDirs: (cluster: ClusterConfig) => string[];
  /** The system account of a username (`batch.fileAccess: posix`); default: the system's user database. */
  accounts?: AccountLookup | undefined;
  /**
   * Projects (allocations): each batch is charged to one, checked before any of its input is
   * read. Without it (tests of other parts) batches are charged to nothing.
   */
  projects?: Projects | undefined;
  /** Tell the worker (in this process) that a batch was created or cancelled. */
  notify?: ((event: { kind: "created" | "cancelled"; batchId: string }) => void) | undefined;
}

export type BatchWithOwner = BatchRow & { user: { username: string } };

function windowSeconds(window: string): number {
  const value = Number.parseInt(window, 10);
  return window.endsWith("d") ? value * 86_400 : value * 3600;
}

/**
 * Batches as both front doors see them: create (with the checks a user gets an answer to at
 * once: the model, access, the batch capability, paths, the active-batch limit), list, read,
 * cancel. The worker does the rest; `notify` wakes it in this process.
 */
export class BatchService {
  private readonly accounts: AccountLookup;
  /** Every status change of a batch goes through the store (compare-and-set, checked against the transitions table). */
  private readonly store: BatchStore;

  constructor(private readonly deps: BatchServiceDeps) {
    this.accounts = deps.accounts ?? cachedLookup();
    this.store = new BatchStore(deps.db);
  }

  /**
   * Whose rights decide what a user's batch may read and write (`batch.fileAccess`): the
   * service's, the world's (with the user's own output folder), or the user's system account.
   */
  private async policyFor(userId: string, inputFile: string): Promise<FilePolicy> {
    const mode = this.deps.settings.fileAccess ?? "service";
    if (mode === "service") return { mode };
    const user = await this.prisma.user.findUnique({ where: { id: userId }, select: { username: true } });
    const username = user?.username ?? "";
    const refuse = (problem: string) =>
      apiError("path_access_denied", { param: "input_file", path: inputFile, problem }, { param: "input_file" });
    if (mode === "world") {
      if (!/^[A-Za-z0-9_][A-Za-z0-9_.@-]*$/.test(username)) {
        throw refuse(`cannot be used: your username '${username}' cannot name your output folder`);
      }
      return { mode, username };
    }
    const account = await this.accounts(username);
    if (!account) throw refuse(`cannot be checked: there is no system account '${username}' for you on this service`);
    // A username is not proof of being that system account's person (an identity provider may
    // let users pick theirs): root, system accounts and the service's own are never lent out.
    if (account.uid < MIN_USER_UID || account.uid === process.geteuid?.()) {
      throw refuse(`cannot be checked: '${username}' is a system account, not a user's`);
    }
    return { mode, account };
  }

  private get prisma() {
    return this.deps.db.prisma;
  }

  private now(): Date {
    return new Date(this.deps.clock.now());
  }

  /**
   * The first model named in the file (so its access and capability can be checked before
   * accepting it). Reads at most the first 1000 requests and a bounded number of bytes; a line
   * longer than `batch.maxLineBytes` refuses the file at once, without reading that line whole.
   */
  private async peekModel(file: string, param: string): Promise<string | undefined> {
    const maxLineBytes = this.deps.settings.maxLineBytes;
    const budget = Math.max(maxLineBytes, 16 * 1024 * 1024);
    let seen = 0;
    let read = 0;
    for await (const item of scanRequestLines(file, { maxLineBytes })) {
      if ("tooLong" in item) {
        throw apiError("batch_line_too_long", { line: item.line, limit: formatBytes(maxLineBytes) }, { param });
      }
      read += item.text.length;
      if (++seen > 1000 || read > budget) break;
      try {
        const model = (JSON.parse(item.text) as { body?: { model?: unknown } }).body?.model;
        if (typeof model === "string" && model.length > 0) return model;
      } catch {
        // a bad line: validation will report it with its number
      }
    }
    return undefined;
  }

  /** The user's unfinished batches, oldest first. */
  private async activeBatches(tx: PrismaClientOrTransaction, userId: string) {
    return tx.batch.findMany({
      where: { userId, status: { in: [...ACTIVE_BATCH_STATUSES] } },
      select: { id: true },
      orderBy: { createdAt: "asc" },
    });
  }

  /** 429 naming the active batches when the user is at `batch.activePerUser`. */
  private assertBelowLimit(active: { id: string }[]): void {
    const limit = this.deps.settings.activePerUser;
    if (active.length >= limit) {
      throw apiError("batch_limit_reached", {
        active: active.length,
        limit,
        batchIds: active.map((b) => b.id).join(", "),
      });
    }
  }

  /**
   * The active-batch limit, checked before any of the input is looked at: a user at the limit
   * cannot make the service read (or even open) another file. `insert` checks again under a lock.
   */
  private async checkActiveLimit(userId: string): Promise<void> {
    this.assertBelowLimit(await this.activeBatches(this.prisma, userId));
  }

  /**
   * Insert a batch unless the user is at the active-batch limit (429 naming the active ones).
   * The check and the insert share a transaction holding a per-user advisory lock, so two
   * requests at once cannot both pass.
   */
  private async insert(userId: string, data: Omit<Prisma.BatchUncheckedCreateInput, "userId">): Promise<BatchRow> {
    const row = await this.prisma.$transaction(async (tx) => {
      await tx.$executeRawUnsafe("SELECT pg_advisory_xact_lock(hashtext($1))", `batch-quota:${userId}`);
      this.assertBelowLimit(await this.activeBatches(tx, userId));
      if (data.api === "reference") await this.assertInputFree(tx, userId, data.inputPath);
      return tx.batch.create({ data: { ...data, userId } });
    });
    this.deps.notify?.({ kind: "created", batchId: row.id });
    return row;
  }

  /**
   * The project to charge (the one named, or the user's only active one), refused with the
   * catalogue's 400/403/404/429 when there is none to charge. Undefined without projects.
   */
  private async charge(userId: string, named: string | undefined, model: string | undefined) {
    return this.deps.projects?.chargeFor(userId, named, model);
  }

  /**
   * `GET /v1/allocation`: the project a batch would be charged to now, or the refusal its
   * create would get (so `sy batch submit` learns it before uploading anything).
   */
  async allocation(userId: string, named: string | undefined, model: string | undefined): Promise<Allocation> {
    const projects = this.deps.projects;
    if (!projects) throw apiError("route_not_found", { method: "GET", path: "/v1/allocation" });
    const charge = await projects.chargeFor(userId, named, model);
    const summary = await projects.summary(charge.name);
    return {
      object: "allocation",
      project: summary.name,
      description: summary.description,
      token_budget: summary.tokenBudget,
      spent: summary.spent,
      remaining: summary.tokenBudget === null ? null : Math.max(0, summary.tokenBudget - summary.spent),
      valid_until: summary.validUntil,
    };
  }

  private expiry(window: string): Date {
    return new Date(this.deps.clock.now() + windowSeconds(window) * 1000);
  }

  /** `outputDir` is the folder the user named (or the default); the files are inside it. */
  private layoutFields(outputDir: string, layout: OutputLayout) {
    return {
      outputDir,
      resultsPath: layout.results,
      errorsPath: layout.errors,
      progressPath: layout.progress,
    };
  }

  /**
   * Every check that decides whether this user may create this batch, in the order a user gets
   * its answer: the completion window, the active-batch limit (before any input is opened, so a
   * user at the limit cannot make the service read another file), the model (its input read
   * only now), access to it and its batch capability (404/403/422), and the project it is
   * charged to (400/403/404/429, before the input is read; the model's own limit after). Both create paths and
   * `POST /v1/batches/precheck` run this one function, so a check added here (an allocation)
   * holds for all three, and the precheck answers exactly what create would.
   */
  async checkBatchCreate<R extends { model: string | undefined }>(
    userId: string,
    check: BatchCreateCheck<R>,
    resolve: ResolveBatchTarget,
  ): Promise<{ read: R; target: BatchTarget | undefined; charge: Charge | undefined }> {
    if (check.completionWindow !== undefined) this.assertWindow(check.completionWindow);
    await this.checkActiveLimit(userId);
    // The allocation before the input: a user without one learns it before anything is read.
    const charge = await this.charge(userId, check.project, undefined);
    const read = await check.read();
    const target = read.model === undefined ? undefined : resolve(read.model, check.path);
    if (charge && target) await this.deps.projects?.checkModel(charge, target.model.id);
    return { read, target, charge };
  }

  /** 400 naming the windows on offer. */
  private assertWindow(window: string): void {
    if (!this.deps.settings.completionWindows.includes(window)) {
      throw apiError(
        "invalid_field",
        {
          param: "completion_window",
          detail: `expected one of ${this.deps.settings.completionWindows.map((w) => JSON.stringify(w)).join(", ")}`,
        },
        { param: "completion_window" },
      );
    }
  }

  /** `POST /v1/batches/precheck`: create's checks for a model, before its input is uploaded. */
  async precheck(userId: string, input: BatchPrecheckRequest, resolve: ResolveBatchTarget): Promise<BatchPrecheck> {
    const window = input.completion_window ?? (this.deps.settings.completionWindows[0] as string);
    const { target } = await this.checkBatchCreate(
      userId,
      { completionWindow: window, project: input.project, read: async () => ({ model: input.model }) },
      resolve,
    );
    return { object: "batch.precheck", model: target?.model.id ?? input.model, completion_window: window };
  }

  /**
   * The uploaded input of `POST /v1/batches`: the file (the user's, purpose batch), checked and
   * recorded like shared storage (the upload and the output folder are the service's own, but
   * the worker then opens exactly these and nothing else), and the first model it names.
   */
  private async readUpload(userId: string, fileId: string) {
    const file = await this.deps.files.locate(userId, fileId);
    if (file.purpose !== "batch") {
      throw apiError(
        "invalid_field",
        {
          param: "input_file_id",
          detail: `file '${fileId}' has purpose '${file.purpose}'; upload the input with purpose 'batch'`,
        },
        { param: "input_file_id" },
      );
    }
    const files = this.deps.files.dir;
    const checkedInput = await authoriseInput(file.path, [files], "", undefined, "input_file_id");
    const folder = await authoriseOutputFolder(path.join(files, "batches"), [files], "", undefined, "input_file_id");
    const model = await this.peekModel(file.path, "input_file_id");
    return { file, checkedInput, folder, model };
  }

  /** `POST /v1/batches`. */
  async createOpenAI(userId: string, input: CreateBatchRequest, resolve: ResolveBatchTarget): Promise<BatchObject> {
    const { read, target, charge } = await this.checkBatchCreate(
      userId,
      {
        completionWindow: input.completion_window,
        project: input.project,
        read: () => this.readUpload(userId, input.input_file_id),
      },
      resolve,
    );
    const { file, checkedInput, folder } = read;
    const cluster = target?.cluster ?? undefined;
    const id = newBatchId();
    const row = await this.insert(userId, {
      id,
      api: "openai",
      clusterName: cluster?.name ?? "",
      framework: target?.model.framework ?? "",
      model: target?.model.id ?? "",
      endpoint: input.endpoint,
      completionWindow: input.completion_window,
      ...(input.metadata ? { metadata: input.metadata } : {}),
      inputFileId: input.input_file_id,
      inputPath: file.path,
      projectId: charge?.projectId ?? null,
      expiresAt: this.expiry(input.completion_window),
      createdAt: this.now(),
      ...this.layoutFields(path.join(this.deps.files.dir, "batches"), openaiLayout(this.deps.files.dir, id)),
      fileRefs: {
        input: checkedInput.ref,
        folder: folder.ref,
      } satisfies BatchFileRefs as unknown as Prisma.InputJsonValue,
    });
    return toBatchObject(row);
  }

  /**
   * 409 when one of the user's unfinished batches already reads this input file (the reference
   * API's rule: submitting the same file twice is almost always a retried script, not intent).
   */
  private async assertInputFree(tx: PrismaClientOrTransaction, userId: string, inputPath: string): Promise<void> {
    const busy = await tx.batch.findFirst({
      where: { userId, api: "reference", inputPath, status: { in: [...ACTIVE_BATCH_STATUSES] } },
      select: { id: true, status: true },
    });
    if (busy) {
      throw apiError(
        "batch_input_in_use",
        { path: inputPath, batchId: busy.id, status: referenceStatus(busy.status) },
        { param: "input_file" },
      );
    }
  }

  /** `POST /resource_server[/{cluster}/{framework}]/v1/batches`. */
  async createReference(
    userId: string,
    input: ReferenceCreateBatch,
    resolve: ResolveBatchTarget,
    pathTarget?: { cluster: string; framework: string },
  ): Promise<ReferenceBatchDetail> {
    // The same file again says so, before the active limit would answer with a vaguer 429.
    await this.assertInputFree(this.prisma, userId, path.resolve(input.input_file));
    const { target, charge } = await this.checkBatchCreate(
      userId,
      { project: input.project, read: async () => ({ model: input.model }), path: pathTarget },
      resolve,
    );
    if (!target) throw apiError("missing_required_field", { param: "model" }, { param: "model" });
    const dirs = this.deps.allowedDirs(target.cluster);
    const policy = await this.policyFor(userId, input.input_file);
    const checkedInput = await authoriseInput(
      input.input_file,
      dirs,
      target.cluster.name,
      policy,
      "input_file",
      target.cluster.batch.worldReadableRoots,
    );
    const inputFile = checkedInput.path;
    // Without a folder the results go beside the input; in `world` mode into the user's own
    // folder. Outputs stay inside the allowed directories: an input read from a world-readable
    // root has no folder beside it to write in, so outside `world` mode the user must name one.
    let defaultFolder: string;
    if (policy.mode === "world") {
      const base = checkedInput.worldReadableRoot ? dirs[0] : checkedInput.ref.base;
      if (base === undefined)
        throw apiError("missing_required_field", { param: "output_folder_path" }, { param: "output_folder_path" });
      defaultFolder = path.join(base, policy.username);
    } else if (checkedInput.worldReadableRoot && !input.output_folder_path) {
      throw apiError("missing_required_field", { param: "output_folder_path" }, { param: "output_folder_path" });
    } else {
      defaultFolder = path.dirname(input.input_file);
    }
    const folder = await authoriseOutputFolder(
      input.output_folder_path ?? defaultFolder,
      dirs,
      target.cluster.name,
      policy,
      input.output_folder_path ? "output_folder_path" : "input_file",
    );
    const outputFolder = folder.path;
    const id = newBatchId();
    const created = this.now();
    const window = this.deps.settings.completionWindows[0] as string;
    const row = await this.insert(userId, {
      id,
      api: "reference",
      clusterName: target.cluster.name,
      framework: pathTarget?.framework ?? target.model.framework,
      model: target.model.id,
      endpoint: "/v1/chat/completions", // the first line's url decides; validation records it
      completionWindow: window,
      inputPath: inputFile,
      projectId: charge?.projectId ?? null,
      expiresAt: this.expiry(window),
      createdAt: created,
      ...this.layoutFields(outputFolder, referenceLayout(outputFolder, inputFile, target.model.id, id, created)),
      fileRefs: {
        input: checkedInput.ref,
        folder: folder.ref,
      } satisfies BatchFileRefs as unknown as Prisma.InputJsonValue,
    });
    return toReferenceDetail(row);
  }

  /** A batch of the user's (404 for anyone else's: its existence is not disclosed). */
  async row(userId: string, id: string): Promise<BatchRow> {
    const row = await this.prisma.batch.findFirst({ where: { id, userId } });
    if (!row) throw apiError("batch_not_found", { batchId: id }, { param: "batch_id" });
    return row;
  }

  async get(userId: string, id: string): Promise<BatchObject> {
    return toBatchObject(await this.row(userId, id));
  }

  /** `GET /v1/batches`: newest first, `after` an id, `limit` 1 to 100. */
  async list(userId: string, query: { after?: string | undefined; limit: number }) {
    let anchor: { createdAt: Date; id: string } | undefined;
    if (query.after) {
      anchor =
        (await this.prisma.batch.findFirst({
          where: { id: query.after, userId },
          select: { createdAt: true, id: true },
        })) ?? undefined;
      if (!anchor) throw apiError("batch_not_found", { batchId: query.after }, { param: "after" });
    }
    const rows = await this.prisma.batch.findMany({
      where: {
        userId,
        ...(anchor
          ? { OR: [{ createdAt: { lt: anchor.createdAt } }, { createdAt: anchor.createdAt, id: { lt: anchor.id } }] }
          : {}),
      },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: query.limit + 1,
    });
    const data = rows.slice(0, query.limit).map(toBatchObject);
    return {
      object: "list" as const,
      data,
      first_id: data[0]?.id ?? null,
      last_id: data.at(-1)?.id ?? null,
      has_more: rows.length > query.limit,
    };
  }

  /** `GET /resource_server/v1/batches[?status=]`: the user's batches, newest first. */
  async listReference(userId: string, status?: ReferenceBatchStatus): Promise<ReferenceBatch[]> {
    const rows = await this.prisma.batch.findMany({
      where: { userId, ...(status ? { status: { in: statusesForReference(status) } } : {}) },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: 1000,
    });
    return rows.map(toReferenceBatch);
  }

  async getReference(userId: string, id: string): Promise<ReferenceBatchDetail> {
    return toReferenceDetail(await this.row(userId, id));
  }

  /** `GET .../batches/{id}/result`: where the files are and how it went, once the batch has ended. */
  async referenceResult(userId: string, id: string): Promise<ReferenceBatchResult> {
    const row = await this.row(userId, id);
    if (!ENDED_BATCH_STATUSES.includes(row.status)) {
      throw apiError("batch_state_conflict", {
        batchId: id,
        status: referenceStatus(row.status),
        action: "asked for results before it ends (its status shows the progress)",
      });
    }
    if (row.status === "failed") throw apiError("batch_failed", { reason: failureReason(row) });
    const started = row.inProgressAt?.getTime() ?? row.createdAt.getTime();
    const ended = finishedAt(row)?.getTime() ?? started;
    const elapsed = Math.max(0, (ended - started) / 1000);
    const total = Number(row.promptTokens) + Number(row.completionTokens);
    return {
      results_file: row.resultsPath ?? "",
      progress_file: row.progressPath ?? "",
      errors_file: row.errorsPath ?? "",
      metrics: {
        response_time: Math.round(elapsed * 1000) / 1000,
        throughput_tokens_per_second: elapsed > 0 ? Math.round((total / elapsed) * 100) / 100 : 0,
        total_tokens: total,
        num_responses: row.completedCount,
        lines_processed: row.completedCount + row.failedCount,
      },
    };
  }

  /**
   * Ask a batch to stop: `cancelling` now, `cancelled` once the worker has aborted what was in
   * flight and saved what was answered. Cancelling twice is harmless; an ended batch is 409.
   */
  async cancel(userId: string, id: string): Promise<BatchRow> {
    return this.cancelWhere({ id, userId });
  }

  private async cancelWhere(where: { id: string; userId?: string }): Promise<BatchRow> {
    const { id } = where;
    const find = async () => {
      const row = await this.prisma.batch.findFirst({ where });
      if (!row) throw apiError("batch_not_found", { batchId: id }, { param: "batch_id" });
      return row;
    };
    const row = await find();
    if (row.status === "cancelling" || row.status === "cancelled") return row;
    if (!canTransitionBatch(row.status, "cancelling")) {
      throw apiError("batch_state_conflict", { batchId: id, status: row.status, action: "cancelled" });
    }
    const moved = await this.store.transition(id, batchStatusesBefore("cancelling"), "cancelling", {
      cancellingAt: this.now(),
    });
    if (!moved) return this.cancelWhere(where); // it moved on meanwhile: answer for its new status
    this.deps.notify?.({ kind: "cancelled", batchId: id });
    return find();
  }

  // ---- the control plane: batches with their owners, across users for admins ----------

  /** Batches newest first with their owner's username; `userId` narrows to one user. */
  async listWithOwners(filter: {
    userId?: string | undefined;
    statuses?: readonly BatchStatus[] | undefined;
    limit: number;
  }): Promise<BatchWithOwner[]> {
    return this.prisma.batch.findMany({
      where: {
        ...(filter.userId ? { userId: filter.userId } : {}),
        ...(filter.statuses ? { status: { in: [...filter.statuses] } } : {}),
      },
      include: { user: { select: { username: true } } },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: filter.limit,
    });
  }

  /** One batch with its owner, whoever that is; the caller decides who may see it. */
  async findWithOwner(id: string): Promise<BatchWithOwner | null> {
    return this.prisma.batch.findUnique({ where: { id }, include: { user: { select: { username: true } } } });
  }

  /** Cancel whoever's batch it is (an admin's cancel; the caller checked the role). */
  async cancelAny(id: string): Promise<BatchRow> {
    return this.cancelWhere({ id });
  }

  /** 409 when an unfinished batch still reads the file. */
  async assertFileUnused(userId: string, fileId: string): Promise<void> {
    const user = await this.prisma.batch.findFirst({
      where: { userId, inputFileId: fileId, status: { in: [...ACTIVE_BATCH_STATUSES] } },
      select: { id: true, status: true },
    });
    if (user) throw apiError("file_in_use", { fileId, batchId: user.id, status: user.status });
  }
}
