import { type BigIntStats, constants } from "node:fs";
import { type FileHandle, lstat, mkdir, open, readlink, rename, unlink } from "node:fs/promises";
import path from "node:path";

/**
 * Files on storage that users can write to, opened without ever following a symlink.
 *
 * Every path below a trusted root (an allowed directory, the files directory: the operator's)
 * is walked one name at a time: each directory is opened with `O_DIRECTORY | O_NOFOLLOW`
 * through its parent's descriptor, as `/proc/self/fd/<parent>/<name>` (Linux resolves that
 * like openat(2): the parent is the directory already open, whatever its path leads to now),
 * and the last name with `O_NOFOLLOW` (`O_EXCL` when it is created). What is opened is then
 * checked with fstat: its type, and (when one was recorded) its device and inode. A symlink
 * anywhere below the root, or a file swapped for another since it was checked, is refused;
 * nothing is ever read or written through a path that could lead elsewhere.
 */

const { O_RDONLY, O_WRONLY, O_APPEND, O_CREAT, O_EXCL, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK } = constants;

/** A file's identity: device and inode, as decimal strings (64-bit on parallel filesystems). */
export interface FileRef {
  dev: string;
  ino: string;
}

export function refOf(info: BigIntStats): FileRef {
  return { dev: info.dev.toString(), ino: info.ino.toString() };
}

export function sameRef(a: FileRef, b: FileRef): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

export type UnsafeReason = "missing" | "symlink" | "not_directory" | "not_file" | "denied" | "exists" | "changed";

/** Why a safe open was refused, and at which path (never what the file contains). */
export class UnsafePathError extends Error {
  constructor(
    readonly reason: UnsafeReason,
    readonly at: string,
    /** For a symlink: where its text points (absolute), to say whether it leads out. */
    readonly target?: string,
  ) {
    super(`${at} ${describe(reason)}`);
    this.name = "UnsafePathError";
  }
}

export function describe(reason: UnsafeReason): string {
  switch (reason) {
    case "missing":
      return "does not exist";
    case "symlink":
      return "is a symbolic link (batch paths may not contain any; name the file itself)";
    case "not_directory":
      return "is not a directory";
    case "not_file":
      return "is not a regular file";
    case "denied":
      return "cannot be read (permission denied)";
    case "exists":
      return "exists already";
    case "changed":
      return "was replaced since the batch was created";
  }
}

/** A name inside an open directory, resolved through the descriptor (Linux). */
export function beneath(dir: FileHandle, name: string): string {
  return `/proc/self/fd/${dir.fd}/${name}`;
}

function checkName(name: string): void {
  if (name === "" || name === "." || name === ".." || name.includes("/") || name.includes("\0")) {
    throw new Error(`not a single path name: ${JSON.stringify(name)}`);
  }
}

/** Turn an open() failure on `name` into the refusal: a symlink there, or what the errno says. */
async function refusal(error: unknown, dir: FileHandle, name: string, shown: string): Promise<UnsafePathError> {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return new UnsafePathError("missing", shown);
  if (code === "EACCES" || code === "EPERM") return new UnsafePathError("denied", shown);
  if (code === "EEXIST") return new UnsafePathError("exists", shown);
  if (code === "ELOOP" || code === "ENOTDIR" || code === "ENXIO") {
    const info = await lstat(beneath(dir, name)).catch(() => undefined);
    if (info?.isSymbolicLink()) {
      // Its text only (never followed): relative links are read against the directory's path.
      const text = await readlink(beneath(dir, name)).catch(() => "");
      const here = await readlink(`/proc/self/fd/${dir.fd}`).catch(() => "/");
      return new UnsafePathError("symlink", shown, path.resolve(here, text));
    }
    return new UnsafePathError(code === "ENOTDIR" ? "not_directory" : "not_file", shown);
  }
  throw error;
}

/** Open a directory of the operator's (its path may contain symlinks the operator made). */
export async function openRoot(root: string): Promise<FileHandle> {
  try {
    return await open(root, O_RDONLY | O_DIRECTORY);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UnsafePathError(code === "ENOENT" ? "missing" : code === "ENOTDIR" ? "not_directory" : "denied", root);
  }
}

/** Open the directory `name` inside `dir`, never through a symlink. */
export async function openDirAt(dir: FileHandle, name: string, shown: string): Promise<FileHandle> {
  checkName(name);
  try {
    return await open(beneath(dir, name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch (error) {
    throw await refusal(error, dir, name, shown);
  }
}

/** Create the directory `name` inside `dir` (failing if anything is there) and open it. */
export async function makeDirAt(dir: FileHandle, name: string, shown: string, mode = 0o755): Promise<FileHandle> {
  checkName(name);
  try {
    await mkdir(beneath(dir, name), { mode });
  } catch (error) {
    throw await refusal(error, dir, name, shown);
  }
  // Between making it and opening it, whoever may write in `dir` could have put a directory of
  // their own in its place: what is opened must be this process's.
  const made = await openDirAt(dir, name, shown);
  const info = await made.stat();
  if (info.uid !== process.geteuid?.()) {
    await made.close();
    throw new UnsafePathError("changed", shown);
  }
  return made;
}

/** Open a regular file inside `dir` to read it, never through a symlink (nor blocking on a FIFO). */
export async function openFileAt(dir: FileHandle, name: string, shown: string): Promise<FileHandle> {
  checkName(name);
  let handle: FileHandle;
  try {
    handle = await open(beneath(dir, name), O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (error) {
    throw await refusal(error, dir, name, shown);
  }
  const info = await handle.stat();
  if (!info.isFile()) {
    await handle.close();
    throw new UnsafePathError("not_file", shown);
  }
  return handle;
}

/**
 * Open (or, with `create`, create exclusively) a regular file inside `dir` for appending.
 * An existing file must be a regular file with one link, and the one recorded when given.
 */
export async function openAppendAt(
  dir: FileHandle,
  name: string,
  shown: string,
  options: { create: true; mode?: number } | { create: false; expect?: FileRef | undefined },
): Promise<FileHandle> {
  checkName(name);
  const flags = O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | (options.create ? O_CREAT | O_EXCL : 0);
  let handle: FileHandle;
  try {
    handle = await open(beneath(dir, name), flags, options.create ? (options.mode ?? 0o640) : undefined);
  } catch (error) {
    throw await refusal(error, dir, name, shown);
  }
  try {
    const info = await handle.stat({ bigint: true });
    if (!info.isFile() || info.nlink !== 1n) throw new UnsafePathError("not_file", shown);
    if (!options.create && options.expect && !sameRef(refOf(info), options.expect)) {
      throw new UnsafePathError("changed", shown);
    }
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** The device and inode of an open file or directory. */
export async function refOfHandle(handle: FileHandle): Promise<FileRef> {
  return refOf(await handle.stat({ bigint: true }));
}

/** Throw `changed` unless the open directory or file is the one recorded. */
export async function expectRef(handle: FileHandle, expected: FileRef | undefined, shown: string): Promise<void> {
  if (expected && !sameRef(await refOfHandle(handle), expected)) throw new UnsafePathError("changed", shown);
}

/**
 * Replace `name` inside `dir` atomically: write a new file (created exclusively, never through
 * a symlink) and rename it over the old one (rename replaces a symlink, it does not follow it).
 */
export async function replaceFileAt(dir: FileHandle, name: string, text: string, mode = 0o644): Promise<void> {
  checkName(name);
  const temporary = `.${name}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`;
  const handle = await open(beneath(dir, temporary), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
  try {
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
  try {
    await rename(beneath(dir, temporary), beneath(dir, name));
  } catch (error) {
    await unlink(beneath(dir, temporary)).catch(() => {});
    throw error;
  }
}

/** Split the part of an absolute path below `base` into names (`base` itself: none). */
export function namesBelow(base: string, target: string): string[] | undefined {
  if (target === base) return [];
  const prefix = base.endsWith("/") ? base : `${base}/`;
  if (!target.startsWith(prefix)) return undefined;
  return target
    .slice(prefix.length)
    .split("/")
    .filter((part) => part.length > 0 && part !== ".");
}

/** Close handles, ignoring errors (cleanup after a refusal). */
export async function closeAll(...handles: (FileHandle | undefined)[]): Promise<void> {
  await Promise.all(handles.map((h) => h?.close().catch(() => {})));
}
