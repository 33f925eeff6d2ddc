import { type FileHandle, mkdir, open, rename, stat, truncate, writeFile } from "node:fs/promises";
import path from "node:path";
import type { BatchProgress } from "@switchyard/core";

/**
 * An append-only output file (results or errors) that can be cut back to a checkpoint: on
 * resume, whatever was written after the last saved checkpoint (a torn last line, or lines
 * whose checkpoint never reached the database) is dropped, so every line is there exactly once.
 */
export class OutputFile {
  private handle: FileHandle | undefined;
  private pending: string[] = [];
  private pendingBytes = 0;
  /** Bytes on disk and synced. */
  private synced = 0;

  constructor(readonly path: string) {}

  /** Open at the checkpoint: truncate to `bytes` (create when empty and missing). */
  async openAt(bytes: number): Promise<void> {
    await mkdir(path.dirname(this.path), { recursive: true });
    let size: number | undefined;
    try {
      size = (await stat(this.path)).size;
    } catch {
      size = undefined;
    }
    if (size === undefined) {
      if (bytes > 0) throw new Error(`${this.path} is missing, but ${bytes} bytes of it were checkpointed`);
      await writeFile(this.path, "", { mode: 0o640 });
    } else if (size < bytes) {
      throw new Error(`${this.path} has ${size} bytes, fewer than the ${bytes} checkpointed`);
    } else if (size > bytes) {
      await truncate(this.path, bytes);
    }
    this.handle = await open(this.path, "a");
    this.synced = bytes;
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

/** `progress.json`, replaced atomically (write a temporary file, then rename over it). */
export async function writeProgress(file: string, progress: BatchProgress): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(progress, null, 2)}\n`);
  await rename(temporary, file);
}
