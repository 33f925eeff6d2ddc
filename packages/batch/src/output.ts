import type { FileHandle } from "node:fs/promises";
import type { BatchProgress } from "@switchyard/core";
import { type FileRef, openAppendAt, refOfHandle, replaceFileAt, UnsafePathError } from "./safe-fs";

/** Buffered output past which it is written without waiting for a checkpoint (see `append`). */
export const WRITE_BEHIND_BYTES = 64 * 1024;

/**
 * An append-only output file (results or errors) that can be cut back to a checkpoint: on
 * resume, whatever was written after the last saved checkpoint (a torn last line, or lines
 * whose checkpoint never reached the database) is dropped, so every line is there exactly once.
 *
 * It lives in the batch's own directory, opened once by the worker (`dir`); the file is opened
 * through that descriptor without following symlinks, created exclusively the first time, and
 * on every later open must be the file recorded then (same device and inode).
 */
export class OutputFile {
  private handle: FileHandle | undefined;
  private pending: string[] = [];
  private pendingBytes = 0;
  /** Bytes handed to the file in order (written, or queued to be); a cut's length is read here. */
  private queued = 0;
  /** Bytes on disk and synced. */
  private synced = 0;
  /** The writes in order: each append of a chunk, then a sync's fsync. */
  private chain: Promise<void> = Promise.resolve();
  /** The first write that failed: every later sync fails with it (no checkpoint skips a gap). */
  private failure: Error | undefined;

  constructor(
    private readonly dir: FileHandle,
    private readonly name: string,
    readonly path: string,
    /** Its permissions when created (0640; 0644 when results must be readable by everyone). */
    private readonly mode = 0o640,
  ) {}

  /**
   * Open at the checkpoint, truncating to `bytes`. `known` is the file recorded when it was
   * created: without one (a new batch) the file is created and must not exist; `"adopt"`
   * takes an existing regular file (or creates it), for batches created before files were
   * recorded. Returns the file's identity, to be recorded.
   */
  async openAt(bytes: number, known: FileRef | "adopt" | undefined): Promise<FileRef> {
    if (known === undefined) {
      if (bytes > 0) throw new Error(`${this.path} is missing, but ${bytes} bytes of it were checkpointed`);
      this.handle = await openAppendAt(this.dir, this.name, this.path, { create: true, mode: this.mode });
    } else {
      try {
        this.handle = await openAppendAt(this.dir, this.name, this.path, {
          create: false,
          expect: known === "adopt" ? undefined : known,
        });
      } catch (error) {
        if (!(known === "adopt" && error instanceof UnsafePathError && error.reason === "missing" && bytes === 0)) {
          throw error;
        }
        this.handle = await openAppendAt(this.dir, this.name, this.path, { create: true, mode: this.mode });
      }
    }
    const { size } = await this.handle.stat();
    if (size < bytes) {
      await this.close();
      throw new Error(`${this.path} has ${size} bytes, fewer than the ${bytes} checkpointed`);
    }
    if (size > bytes) await this.handle.truncate(bytes);
    this.synced = bytes;
    this.queued = bytes;
    return refOfHandle(this.handle);
  }

  /**
   * Buffer a line. Once `WRITE_BEHIND_BYTES` wait, they are written at once (not synced):
   * lines leave memory while they are young instead of waiting for the next checkpoint, which
   * kept a second's worth of lines alive long enough to be promoted into the old heap. What is
   * written past the last checkpoint is cut off on resume, like a torn line.
   */
  append(line: string): void {
    this.pending.push(line);
    this.pendingBytes += Buffer.byteLength(line) + 1;
    if (this.pendingBytes >= WRITE_BEHIND_BYTES) this.writePending();
  }

  /** Bytes appended and not yet handed to the file. */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  /**
   * Cut here, synchronously (so a checkpoint can cut the results and errors files at the same
   * line): everything appended so far is written and fsynced, and the promise resolves with the
   * file's length at the cut, whatever is appended after.
   */
  sync(): Promise<number> {
    this.writePending();
    const length = this.queued;
    const done = this.enqueue(async (handle) => {
      if (this.synced === length) return;
      await handle.datasync();
      this.synced = length;
    }).then(() => length);
    // Rejections are the caller's, through the returned promise; this copy only keeps an
    // abandoned cut (a run that was lost meanwhile) from becoming an unhandled rejection.
    done.catch(() => {});
    return done;
  }

  private writePending(): void {
    if (this.pendingBytes === 0) return;
    const text = `${this.pending.join("\n")}\n`;
    this.queued += this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    void this.enqueue((handle) => handle.appendFile(text)).catch(() => {}); // loops until every byte is written
  }

  /** Run `step` after the writes before it; after a failure, fail without touching the file. */
  private enqueue(step: (handle: FileHandle) => Promise<void>): Promise<void> {
    const run = this.chain.then(async () => {
      if (this.failure) throw this.failure;
      if (!this.handle) throw new Error(`${this.path} is not open`);
      try {
        await step(this.handle);
      } catch (error) {
        this.failure ??= error as Error;
        throw error;
      }
    });
    this.chain = run.catch(() => {});
    return run;
  }

  get length(): number {
    return this.synced;
  }

  async close(): Promise<void> {
    await this.chain;
    await this.handle?.close();
    this.handle = undefined;
  }
}

/** `progress.json` in the batch's directory, replaced atomically (a new file renamed over it). */
export async function writeProgress(dir: FileHandle, name: string, progress: BatchProgress): Promise<void> {
  await replaceFileAt(dir, name, `${JSON.stringify(progress, null, 2)}\n`);
}
