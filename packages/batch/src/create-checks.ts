// The checks of creating a batch, in the order a user gets its answer: the completion window,
// the active-batch limit, the project charged, the model and its access, the input (an upload's
// purpose and first model; whose rights read a shared file) and the reference API's one batch
// per input file. Both create paths, the precheck and `GET /v1/allocation` use them, so each
// answers exactly what the others would.
import path from "node:path";
import {
  ACTIVE_BATCH_STATUSES,
  type Allocation,
  apiError,
  type BatchPrecheck,
  type BatchPrecheckRequest,
  type BatchSettings,
  type ClusterConfig,
  formatBytes,
  type ResolvedModel,
  referenceStatus,
} from "@switchyard/core";
import type { Database, PrismaClientOrTransaction } from "@switchyard/db";
import type { Charge, Projects } from "@switchyard/usage";
import type { AccountLookup, FilePolicy } from "./access";
import type { FileStore } from "./files";
import { scanRequestLines } from "./lines";
import { authoriseInput, authoriseOutputFolder } from "./paths";

/** The lowest uid of a person's account (Debian's and most distributions' UID_MIN). */
const MIN_USER_UID = 1000;

/** The model a batch runs, as the gateway resolved it (access and the batch capability checked). */
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

export interface CreateCheckDeps {
  db: Database;
  settings: BatchSettings;
  /** The service's uploads (the input of `POST /v1/batches`). */
  files: FileStore;
  /** The system account of a username (`batch.fileAccess: posix`). */
  accounts: AccountLookup;
  /** Projects (allocations) a batch is charged to; without them nothing is charged. */
  projects?: Projects | undefined;
}

/** The checks `BatchService` runs before it creates a batch, over the service's own deps. */
export class BatchCreateChecks {
  constructor(private readonly deps: CreateCheckDeps) {}

  private get prisma() {
    return this.deps.db.prisma;
  }

  /**
   * Whose rights decide what a user's batch may read and write (`batch.fileAccess`): the
   * service's, the world's (with the user's own output folder), or the user's system account.
   */
  async policyFor(userId: string, inputFile: string): Promise<FilePolicy> {
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
    const account = await this.deps.accounts(username);
    if (!account) throw refuse(`cannot be checked: there is no system account '${username}' for you on this service`);
    // A username is not proof of being that system account's person (an identity provider may
    // let users pick theirs): root, system accounts and the service's own are never lent out.
    if (account.uid < MIN_USER_UID || account.uid === process.geteuid?.()) {
      throw refuse(`cannot be checked: '${username}' is a system account, not a user's`);
    }
    return { mode, account };
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

  /**
   * The uploaded input of `POST /v1/batches`: the file (the user's, purpose batch), checked and
   * recorded like shared storage (the upload and the output folder are the service's own, but
   * the worker then opens exactly these and nothing else), and the first model it names.
   */
  async readUpload(userId: string, fileId: string) {
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

  /** The user's unfinished batches, oldest first. */
  async activeBatches(tx: PrismaClientOrTransaction, userId: string) {
    return tx.batch.findMany({
      where: { userId, status: { in: [...ACTIVE_BATCH_STATUSES] } },
      select: { id: true },
      orderBy: { createdAt: "asc" },
    });
  }

  /** 429 naming the active batches when the user is at `batch.activePerUser`. */
  assertBelowLimit(active: { id: string }[]): void {
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
   * 409 when one of the user's unfinished batches already reads this input file (the reference
   * API's rule: submitting the same file twice is almost always a retried script, not intent).
   */
  async assertInputFree(tx: PrismaClientOrTransaction, userId: string, inputPath: string): Promise<void> {
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
}
