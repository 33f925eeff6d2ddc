import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ACTIVE_BATCH_STATUSES, apiError, type FileObject, formatBytes } from "@switchyard/core";
import type { PrismaClientOrTransaction } from "@switchyard/db";

export interface StagedUpload {
  id: string;
  path: string;
  bytes: number;
}

export function newFileId(): string {
  return `file-${randomBytes(12).toString("hex")}`;
}

interface FileRow {
  id: string;
  purpose: string;
  filename: string;
  bytes: bigint;
  path: string;
  createdAt: Date;
  expiresAt: Date | null;
}

function seconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

export function toFileObject(row: FileRow): FileObject {
  return {
    id: row.id,
    object: "file",
    bytes: Number(row.bytes),
    created_at: seconds(row.createdAt),
    expires_at: row.expiresAt ? seconds(row.expiresAt) : null,
    filename: row.filename,
    purpose: row.purpose as FileObject["purpose"],
    status: "processed",
    status_details: null,
  };
}

/** What a user may keep: `batch.maxStorageBytesPerUser` and `batch.fileExpiry` (seconds). */
export interface FileLimits {
  maxStorageBytesPerUser: number;
  fileExpiry: number;
}

/** What one cleanup removed. */
export interface FileCleanupReport {
  /** Expired files (their rows are marked deleted and their bytes removed). */
  expired: number;
  /** Partial or never-recorded uploads left by a crash or a dropped connection. */
  abandoned: number;
}

/** An upload not recorded this long after it was last written to was abandoned. */
export const ABANDONED_UPLOAD_MS = 3_600_000;

const UPLOAD_NAME = /^file-[0-9a-f]{24}\.jsonl(\.part)?$/;

/**
 * OpenAI's Files API over a directory: uploads are streamed to disk (never held in memory)
 * under `<dir>/uploads`, batch outputs are registered where the worker wrote them. A file
 * belongs to the user who uploaded it (or whose batch wrote it); others get 404.
 */
export class FileStore {
  constructor(
    private readonly db: PrismaClientOrTransaction,
    readonly dir: string,
    private readonly clock: { now(): number } = { now: () => Date.now() },
    /** Unset: no quota and no expiry (tests that do not care). */
    readonly limits: FileLimits = { maxStorageBytesPerUser: Number.MAX_SAFE_INTEGER, fileExpiry: 0 },
  ) {}

  private expiresAt(created: number, seconds?: number): Date | null {
    const keep = seconds ?? this.limits.fileExpiry;
    return keep > 0 ? new Date(created + keep * 1000) : null;
  }

  /** Bytes of the user's files that are not deleted (uploads and kept batch outputs). */
  async used(userId: string, db: PrismaClientOrTransaction = this.db): Promise<number> {
    const sum = await db.file.aggregate({ where: { userId, deletedAt: null }, _sum: { bytes: true } });
    return Number(sum._sum.bytes ?? 0n);
  }

  /**
   * Room left in the user's storage; 413 when `incoming` bytes (0: any at all) would not fit.
   * Called before an upload's body is read, so a user over their quota stores nothing.
   */
  async room(userId: string, incoming = 0): Promise<number> {
    const used = await this.used(userId);
    const left = this.limits.maxStorageBytesPerUser - used;
    if (left <= 0 || incoming > left) throw this.overQuota(used, incoming);
    return left;
  }

  overQuota(used: number, incoming: number): Error {
    return apiError("storage_quota_exceeded", {
      used: formatBytes(used),
      limit: formatBytes(this.limits.maxStorageBytesPerUser),
      needed: incoming > 0 ? `; this upload needs ${formatBytes(incoming)}` : "",
    });
  }

  get uploadsDir(): string {
    return path.join(this.dir, "uploads");
  }

  /**
   * Stream an upload to disk (never held in memory) under a new id; `commit` records it once
   * the rest of the form is known to be right, `discard` removes it otherwise.
   */
  async stage(source: Readable): Promise<StagedUpload> {
    await mkdir(this.uploadsDir, { recursive: true });
    const id = newFileId();
    const target = path.join(this.uploadsDir, `${id}.jsonl`);
    const partial = `${target}.part`;
    try {
      await pipeline(source, createWriteStream(partial, { mode: 0o640 }));
      await rename(partial, target);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
    return { id, path: target, bytes: (await stat(target)).size };
  }

  async discard(staged: StagedUpload): Promise<void> {
    await rm(staged.path, { force: true });
  }

  /**
   * Record an upload, if it fits the user's storage quota (checked again here under a per-user
   * lock, so uploads at the same time cannot together pass it); otherwise it is removed and 413.
   * `expiresAfter` (seconds from now) shortens the configured expiry.
   */
  async commit(
    staged: StagedUpload,
    input: { userId: string; filename: string; purpose: "batch"; expiresAfter?: number | undefined },
  ): Promise<FileObject> {
    const created = this.clock.now();
    const record = async (tx: PrismaClientOrTransaction) => {
      const used = await this.used(input.userId, tx);
      if (used + staged.bytes > this.limits.maxStorageBytesPerUser) throw this.overQuota(used, staged.bytes);
      return tx.file.create({
        data: {
          id: staged.id,
          userId: input.userId,
          purpose: input.purpose,
          filename: input.filename,
          bytes: BigInt(staged.bytes),
          path: staged.path,
          createdAt: new Date(created),
          expiresAt: this.expiresAt(created, input.expiresAfter),
        },
      });
    };
    try {
      const row =
        "$transaction" in this.db
          ? await this.db.$transaction(async (tx) => {
              await tx.$executeRawUnsafe("SELECT pg_advisory_xact_lock(hashtext($1))", `file-quota:${input.userId}`);
              return record(tx);
            })
          : await record(this.db);
      return toFileObject(row);
    } catch (error) {
      await this.discard(staged);
      throw error;
    }
  }

  /** Record a file the worker wrote (a batch's results or errors). */
  async register(input: { id: string; userId: string; filename: string; path: string }): Promise<FileObject> {
    const { size } = await stat(input.path);
    const row = await this.db.file.upsert({
      where: { id: input.id },
      create: {
        id: input.id,
        userId: input.userId,
        purpose: "batch_output",
        filename: input.filename,
        bytes: BigInt(size),
        path: input.path,
        createdAt: new Date(this.clock.now()),
        expiresAt: this.expiresAt(this.clock.now()),
      },
      update: { bytes: BigInt(size) },
    });
    return toFileObject(row);
  }

  /** `userId` null: any user's file (an operator reading a batch's results from the dashboard). */
  private async row(userId: string | null, id: string): Promise<FileRow & { userId: string }> {
    const row = await this.db.file.findFirst({
      where: { id, ...(userId === null ? {} : { userId }), deletedAt: null },
    });
    if (!row) throw apiError("file_not_found", { fileId: id }, { param: "file_id" });
    return row;
  }

  async get(userId: string | null, id: string): Promise<FileObject> {
    return toFileObject(await this.row(userId, id));
  }

  /** Where a file's bytes are, for `GET /v1/files/{id}/content` and for batches. */
  async locate(
    userId: string | null,
    id: string,
  ): Promise<{ path: string; bytes: number; filename: string; purpose: string }> {
    const row = await this.row(userId, id);
    return { path: row.path, bytes: Number(row.bytes), filename: row.filename, purpose: row.purpose };
  }

  /** Newest first (OpenAI's default order), paged with `after` (an id) and `limit`. */
  async list(
    userId: string,
    query: { after?: string | undefined; limit: number; purpose?: string | undefined },
  ): Promise<{ data: FileObject[]; hasMore: boolean }> {
    let before: { createdAt: Date; id: string } | undefined;
    if (query.after) {
      const anchor = await this.db.file.findFirst({
        where: { id: query.after, userId },
        select: { createdAt: true, id: true },
      });
      if (!anchor) throw apiError("file_not_found", { fileId: query.after }, { param: "after" });
      before = anchor;
    }
    const rows = await this.db.file.findMany({
      where: {
        userId,
        deletedAt: null,
        ...(query.purpose ? { purpose: query.purpose } : {}),
        ...(before
          ? { OR: [{ createdAt: { lt: before.createdAt } }, { createdAt: before.createdAt, id: { lt: before.id } }] }
          : {}),
      },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: query.limit + 1,
    });
    return { data: rows.slice(0, query.limit).map(toFileObject), hasMore: rows.length > query.limit };
  }

  /** Delete a file: its bytes go at once; batches that used it keep their own outputs. */
  async delete(userId: string, id: string): Promise<{ id: string; object: "file"; deleted: true }> {
    const row = await this.row(userId, id);
    await this.db.file.update({ where: { id }, data: { deletedAt: new Date(this.clock.now()) } });
    if (row.purpose === "batch" || row.path.startsWith(this.dir + path.sep)) await rm(row.path, { force: true });
    return { id, object: "file", deleted: true };
  }

  /**
   * Remove what nobody may keep any more: files past their `expires_at` (the row is marked
   * deleted, as a user's delete does, and the bytes go; a file an unfinished batch still reads
   * waits until that batch ends), and uploads a crash or a dropped connection left behind
   * unrecorded. Each file is claimed by one conditional update, so instances may run this at once.
   */
  async removeExpired(): Promise<FileCleanupReport> {
    const now = this.clock.now();
    const due = await this.db.file.findMany({
      where: { deletedAt: null, expiresAt: { lt: new Date(now) } },
      select: { id: true, userId: true, path: true, purpose: true },
      take: 1000,
    });
    let expired = 0;
    for (const file of due) {
      const reading = await this.db.batch.findFirst({
        where: { inputFileId: file.id, userId: file.userId, status: { in: [...ACTIVE_BATCH_STATUSES] } },
        select: { id: true },
      });
      if (reading) continue;
      const claimed = await this.db.file.updateMany({
        where: { id: file.id, deletedAt: null },
        data: { deletedAt: new Date(now) },
      });
      if (claimed.count !== 1) continue;
      expired++;
      if (file.path.startsWith(this.dir + path.sep)) {
        await rm(file.path, { force: true });
        // A batch's output folder goes (its progress file with it) once no kept file is in it.
        const folder = path.dirname(file.path);
        if (file.purpose === "batch_output" && path.dirname(folder) === path.join(this.dir, "batches")) {
          const kept = await this.db.file.count({
            where: { deletedAt: null, path: { startsWith: folder + path.sep } },
          });
          if (kept === 0) await rm(folder, { recursive: true, force: true });
        }
      }
    }
    return { expired, abandoned: await this.removeAbandonedUploads(now) };
  }

  private async removeAbandonedUploads(now: number): Promise<number> {
    const names = await readdir(this.uploadsDir).catch(() => [] as string[]);
    let removed = 0;
    for (const name of names) {
      if (!UPLOAD_NAME.test(name)) continue;
      const file = path.join(this.uploadsDir, name);
      const info = await stat(file).catch(() => undefined);
      if (!info?.isFile() || now - info.mtimeMs < ABANDONED_UPLOAD_MS) continue;
      if (!name.endsWith(".part")) {
        const id = name.slice(0, -".jsonl".length);
        if (await this.db.file.findUnique({ where: { id }, select: { id: true } })) continue;
      }
      await rm(file, { force: true });
      removed++;
    }
    return removed;
  }
}
