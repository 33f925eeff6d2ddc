import type { FileHandle } from "node:fs/promises";
import { realpath } from "node:fs/promises";
import path from "node:path";
import type { PathRef } from "./paths";
import {
  closeAll,
  expectRef,
  type FileRef,
  namesBelow,
  openDirAt,
  openFileAt,
  openRoot,
  UnsafePathError,
} from "./safe-fs";

/**
 * What a batch's paths were checked to be (the batch row's `fileRefs`): the input file and the
 * output folder as checked at create time, then the batch's own directory and its two output
 * files as the worker created them.
 */
export interface BatchFileRefs {
  input?: PathRef;
  folder?: PathRef;
  dir?: FileRef;
  results?: FileRef;
  errors?: FileRef;
}

/**
 * Where to start the walk for a path recorded without a reference (a batch created before
 * references were recorded): the files directory when it is below it, else `/`; every name
 * below is still opened without following symlinks.
 */
async function legacyRef(target: string, filesDir: string): Promise<{ base: string; root: string }> {
  if (namesBelow(filesDir, target)) return { base: filesDir, root: await realpath(filesDir) };
  return { base: "/", root: "/" };
}

/**
 * Open a checked path again: its allowed directory (the operator's, as recorded), then every
 * name below it without following a symlink, and compare what was opened with what was
 * checked. A file or folder swapped since (or a symlink put on the way) is refused.
 */
export async function reopen(
  target: string,
  kind: "file" | "dir",
  where: { base: string; root: string } | undefined,
  expected: FileRef | undefined,
  filesDir: string,
): Promise<FileHandle> {
  const from = where ?? (await legacyRef(target, filesDir));
  const ref = expected;
  const names = namesBelow(from.base, path.normalize(target));
  if (!names) throw new UnsafePathError("changed", target);
  let dir: FileHandle | undefined = await openRoot(from.root);
  try {
    const last = kind === "file" ? names.pop() : undefined;
    for (const name of names) {
      const next: FileHandle = await openDirAt(dir, name, target);
      await closeAll(dir);
      dir = next;
    }
    if (last === undefined) {
      await expectRef(dir, ref, target);
      const opened = dir;
      dir = undefined; // the caller's now
      return opened;
    }
    const file = await openFileAt(dir, last, target);
    try {
      await expectRef(file, ref, target);
    } catch (error) {
      await closeAll(file);
      throw error;
    }
    return file;
  } finally {
    await closeAll(dir);
  }
}

/** An input opened by the worker, read through its descriptor (a path that cannot lead elsewhere). */
export function descriptorPath(handle: FileHandle): string {
  return `/proc/self/fd/${handle.fd}`;
}
