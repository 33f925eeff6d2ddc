import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type FileObject, sy } from "@switchyard/core";
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
  ) {}

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

  async commit(
    staged: StagedUpload,
    input: { userId: string; filename: string; purpose: "batch" },
  ): Promise<FileObject> {
    const row = await this.db.file.create({
      data: {
        id: staged.id,
        userId: input.userId,
        purpose: input.purpose,
        filename: input.filename,
        bytes: BigInt(staged.bytes),
        path: staged.path,
        createdAt: new Date(this.clock.now()),
      },
    });
    return toFileObject(row);
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
    if (!row) throw sy("file_not_found", { fileId: id }, { param: "file_id" });
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
      if (!anchor) throw sy("file_not_found", { fileId: query.after }, { param: "after" });
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
}
