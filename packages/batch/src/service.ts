// Batches as both front doors see them: create, list, read, cancel (and the control plane's
// view across users). The checks a create runs before anything is written are in
// create-checks.ts; the views of a row are in views.ts; every status write is in store.ts.
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
  type ReferenceBatch,
  type ReferenceBatchDetail,
  type ReferenceBatchResult,
  type ReferenceBatchStatus,
  type ReferenceCreateBatch,
  referenceStatus,
  statusesForReference,
} from "@switchyard/core";
import type { Database, Prisma } from "@switchyard/db";
import type { Projects } from "@switchyard/usage";
import { type AccountLookup, cachedLookup } from "./access";
import type { BatchFileRefs } from "./batch-files";
import { BatchCreateChecks, type ResolveBatchTarget } from "./create-checks";
import type { FileStore } from "./files";
import { newBatchId, type OutputLayout, openaiLayout, referenceLayout } from "./output-layout";
import { authoriseInput, authoriseOutputFolder } from "./paths";
import { BatchStore } from "./store";
import { type BatchRow, failureReason, finishedAt, toBatchObject, toReferenceBatch, toReferenceDetail } from "./views";

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
 * Batches as both front doors see them: create (after the checks in `BatchCreateChecks`: the
 * model, access, the batch capability, paths, the active-batch limit, the project), list, read,
 * cancel. The worker does the rest; `notify` wakes it in this process.
 */
export class BatchService {
  /** Every check a create runs before it writes anything (also the precheck's and allocation's). */
  private readonly checks: BatchCreateChecks;
  /** Every status change of a batch goes through the store (compare-and-set, checked against the transitions table). */
  private readonly store: BatchStore;

  constructor(private readonly deps: BatchServiceDeps) {
    this.checks = new BatchCreateChecks({
      db: deps.db,
      settings: deps.settings,
      files: deps.files,
      accounts: deps.accounts ?? cachedLookup(),
      projects: deps.projects,
    });
    this.store = new BatchStore(deps.db);
  }

  private get prisma() {
    return this.deps.db.prisma;
  }

  private now(): Date {
    return new Date(this.deps.clock.now());
  }

  /**
   * `GET /v1/allocation`: the project a batch would be charged to now, or the refusal its
   * create would get (so `sy batch submit` learns it before uploading anything).
   */
  async allocation(userId: string, named: string | undefined, model: string | undefined): Promise<Allocation> {
    return this.checks.allocation(userId, named, model);
  }

  /** `POST /v1/batches/precheck`: create's checks for a model, before its input is uploaded. */
  async precheck(userId: string, input: BatchPrecheckRequest, resolve: ResolveBatchTarget): Promise<BatchPrecheck> {
    return this.checks.precheck(userId, input, resolve);
  }

  /**
   * Insert a batch unless the user is at the active-batch limit (429 naming the active ones).
   * The check and the insert share a transaction holding a per-user advisory lock, so two
   * requests at once cannot both pass.
   */
  private async insert(userId: string, data: Omit<Prisma.BatchUncheckedCreateInput, "userId">): Promise<BatchRow> {
    const row = await this.prisma.$transaction(async (tx) => {
      await tx.$executeRawUnsafe("SELECT pg_advisory_xact_lock(hashtext($1))", `batch-quota:${userId}`);
      this.checks.assertBelowLimit(await this.checks.activeBatches(tx, userId));
      if (data.api === "reference") await this.checks.assertInputFree(tx, userId, data.inputPath);
      return tx.batch.create({ data: { ...data, userId } });
    });
    this.deps.notify?.({ kind: "created", batchId: row.id });
    return row;
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

  /** `POST /v1/batches`. */
  async createOpenAI(userId: string, input: CreateBatchRequest, resolve: ResolveBatchTarget): Promise<BatchObject> {
    const { read, target, charge } = await this.checks.checkBatchCreate(
      userId,
      {
        completionWindow: input.completion_window,
        project: input.project,
        read: () => this.checks.readUpload(userId, input.input_file_id),
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

  /** `POST /resource_server[/{cluster}/{framework}]/v1/batches`. */
  async createReference(
    userId: string,
    input: ReferenceCreateBatch,
    resolve: ResolveBatchTarget,
    pathTarget?: { cluster: string; framework: string },
  ): Promise<ReferenceBatchDetail> {
    // The same file again says so, before the active limit would answer with a vaguer 429.
    await this.checks.assertInputFree(this.prisma, userId, path.resolve(input.input_file));
    const { target, charge } = await this.checks.checkBatchCreate(
      userId,
      { project: input.project, read: async () => ({ model: input.model }), path: pathTarget },
      resolve,
    );
    if (!target) throw apiError("missing_required_field", { param: "model" }, { param: "model" });
    const dirs = this.deps.allowedDirs(target.cluster);
    const policy = await this.checks.policyFor(userId, input.input_file);
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
