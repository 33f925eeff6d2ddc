import type { FileHandle } from "node:fs/promises";
import path from "node:path";
import { type BatchFileRefs, descriptorPath, reopen } from "../batch-files";
import { closeAll, makeDirAt, openDirAt, refOfHandle, UnsafePathError } from "../safe-fs";
import type { RunResources } from "./resources";

/**
 * The batch's input file and its own output directory, each opened once without following
 * symlinks and checked against what was recorded when the batch was created; the run reads
 * the input and opens its output files through these descriptors only.
 */
export class RunFiles {
  /** The input file, opened and checked; read through its descriptor. */
  input: FileHandle | undefined;
  /** The batch's own output directory, opened and checked; its files are opened through it. */
  dir: FileHandle | undefined;

  constructor(private readonly res: RunResources) {}

  get refs(): BatchFileRefs | null {
    return (this.res.batch.fileRefs as BatchFileRefs | null) ?? null;
  }

  async saveRefs(more: Partial<BatchFileRefs>): Promise<void> {
    const next: BatchFileRefs = { ...(this.refs ?? {}), ...more };
    if (next.creating === undefined) delete next.creating;
    await this.res.store.saveRefs(this.res.batch.id, next);
    this.res.batch.fileRefs = next;
  }

  /** The input, read through the descriptor opened and checked by `open`. */
  get inputSource(): string {
    if (!this.input) throw new Error("the input file is not open");
    return descriptorPath(this.input);
  }

  /**
   * Open the input and the batch's own directory, never through a symlink: each from its
   * allowed directory one name at a time, and each must be what was checked when the batch was
   * created (same device and inode). On the first run the directory is created here, and must
   * not exist yet. Throws when anything is off; what was opened stays open for `close`.
   */
  async open(): Promise<void> {
    const { batch } = this.res;
    const refs = this.refs;
    const filesDir = this.res.deps.files.dir;
    if (batch.status === "validating" || batch.status === "in_progress") {
      this.input = await reopen(batch.inputPath, "file", refs?.input, refs?.input, filesDir);
    }
    if (!batch.resultsPath) return;
    const dirPath = path.dirname(batch.resultsPath);
    const where = refs?.folder ? { base: refs.folder.base, root: refs.folder.root } : undefined;
    if (refs?.dir) {
      this.dir = await reopen(dirPath, "dir", where, refs.dir, filesDir);
      return;
    }
    const folder = await reopen(path.dirname(dirPath), "dir", where, refs?.folder, filesDir);
    let dir: FileHandle;
    try {
      if (refs?.folder && refs.creating !== "dir") {
        await this.saveRefs({ creating: "dir" });
        dir = this.dir = await makeDirAt(folder, path.basename(dirPath), dirPath);
        await this.shareWithFolderGroup(folder, dir);
      } else {
        // Created before files were recorded, or by a run killed before it recorded it.
        dir = this.dir = await this.adoptDir(folder, dirPath);
      }
    } finally {
      await closeAll(folder);
    }
    await this.saveRefs({ dir: await refOfHandle(dir), creating: undefined });
  }

  async close(): Promise<void> {
    await closeAll(this.input, this.dir);
    this.input = this.dir = undefined;
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
      this.res.log.warn({ err: error, gid: outer.gid }, "batch: cannot give its directory the output folder's group");
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
}
