import type { FileHandle } from "node:fs/promises";
import type { BatchProgress } from "@switchyard/core";
import { type FileRef, openAppendAt, refOfHandle, replaceFileAt, UnsafePathError } from "./safe-fs";

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
  /** Bytes on disk and synced. */
  private synced = 0;

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
    return refOfHandle(this.handle);
  }

  append(line: string): void {
    this.pending.push(line);
    this.pendingBytes += Buffer.byteLength(line) + 1;
  }

  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  /**
   * Take what is buffered (synchronously, so a checkpoint can cut the results and errors files
   * at the same line), to be passed to `write`.
   */
  take(): { text: string; bytes: number } {
    const chunk = { text: this.pending.length > 0 ? `${this.pending.join("\n")}\n` : "", bytes: this.pendingBytes };
    this.pending = [];
    this.pendingBytes = 0;
    return chunk;
  }

  /** Append a taken chunk and fsync; resolves with the file's synced length. */
  async write(chunk: { text: string; bytes: number }): Promise<number> {
    if (!this.handle) throw new Error(`${this.path} is not open`);
    if (chunk.bytes > 0) {
      await this.handle.appendFile(chunk.text); // loops until every byte is written
      this.synced += chunk.bytes;
      await this.handle.datasync();
    }
    return this.synced;
  }

  get length(): number {
    return this.synced;
  }

  async close(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
  }
}

/** `progress.json` in the batch's directory, replaced atomically (a new file renamed over it). */
export async function writeProgress(dir: FileHandle, name: string, progress: BatchProgress): Promise<void> {
  await replaceFileAt(dir, name, `${JSON.stringify(progress, null, 2)}\n`);
}
