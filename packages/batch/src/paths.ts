import type { FileHandle } from "node:fs/promises";
import { realpath } from "node:fs/promises";
import path from "node:path";
import { apiError, type ClusterConfig } from "@switchyard/core";
import { accountMay, type FilePolicy, type Want, worldMay } from "./access";
import {
  closeAll,
  describe,
  type FileRef,
  makeDirAt,
  namesBelow,
  openDirAt,
  openFileAt,
  openRoot,
  refOfHandle,
  UnsafePathError,
} from "./safe-fs";

/**
 * The directories a cluster's batches may read from and write to: its `batch.allowedDirs`,
 * plus `SWITCHYARD_BATCH_DIRS` (colon-separated), plus the files directory when the cluster
 * lists none (the embedded default: `<data-dir>/files`).
 */
export function allowedDirsFor(
  cluster: ClusterConfig,
  filesDir: string,
  env: NodeJS.ProcessEnv = process.env,
): string[] {
  const extra = (env.SWITCHYARD_BATCH_DIRS ?? "")
    .split(":")
    .map((d) => d.trim())
    .filter((d) => d.length > 0 && path.isAbsolute(d));
  const dirs = [...cluster.batch.allowedDirs, ...extra];
  if (cluster.batch.allowedDirs.length === 0) dirs.unshift(filesDir);
  return [...new Set(dirs.map((d) => path.resolve(d)))];
}

/**
 * Where a checked path lies: `root` is the allowed directory as the filesystem resolves it
 * (the operator's symlinks followed), `base` the form the path was written under, and the
 * device and inode of what was checked. The worker opens it again from `root`, one name at a
 * time without following symlinks, and refuses it unless it is the same file.
 */
export interface PathRef extends FileRef {
  base: string;
  root: string;
}

export interface Checked {
  /** The path as the filesystem knows it (the allowed directory's real path, then the names below it). */
  path: string;
  ref: PathRef;
  /** An input found under a world-readable root (outside the allowed directories): its outputs need a folder of their own. */
  worldReadableRoot?: true;
}

/** The service's own rights, symlinks refused (the default, and the OpenAI API's files directory). */
const SERVICE: FilePolicy = { mode: "service" };

/** Under a world-readable root, whatever the configured mode: only what everyone may read. */
const WORLD_ROOT = "world-root" as const;
type WalkPolicy = FilePolicy | { mode: typeof WORLD_ROOT };

const NOT_WORLD_READABLE =
  "is not world-readable: batches here read only files that everyone may read (the file o+r, every directory below the allowed directory o+x)";
const NOT_WORLD_READABLE_ROOT =
  "is outside the allowed directories, under a world-readable root: it must be readable by everyone (the file o+r, every directory below the root o+x)";

function checkShape(param: string, value: string): void {
  if (value.includes("\0"))
    throw apiError("invalid_path", { param, path: value.replace(/\0/g, "\\0"), problem: "contains a NUL byte" });
  if (!path.isAbsolute(value))
    throw apiError("invalid_path", { param, path: value, problem: "must be an absolute path" }, { param });
  if (value.split(/[\\/]+/).includes("..")) {
    throw apiError("invalid_path", { param, path: value, problem: "must not contain '..'" }, { param });
  }
}

function outside(param: string, value: string, cluster: string, dirs: readonly string[]) {
  return apiError(
    "path_not_allowed",
    { param, path: value, cluster, dirs: dirs.length > 0 ? dirs.join(", ") : "none are configured" },
    { param },
  );
}

function denied(param: string, value: string, problem: string) {
  return apiError("path_access_denied", { param, path: value, problem }, { param });
}

/**
 * Which allowed directory `value` lies in, by its text alone: nothing below the allowed
 * directories is looked at before this says yes, so a path outside gets the same answer
 * whether it exists or not.
 */
async function locate(
  param: string,
  value: string,
  dirs: readonly string[],
  cluster: string,
): Promise<{ base: string; root: string; names: string[] }> {
  const wanted = path.normalize(value);
  for (const dir of dirs) {
    let root: string;
    try {
      root = await realpath(dir);
    } catch {
      continue; // a configured directory that does not exist (yet) allows nothing
    }
    for (const base of dir === root ? [dir] : [dir, root]) {
      const names = namesBelow(base, wanted);
      if (names) return { base, root, names };
    }
  }
  throw outside(param, value, cluster, dirs);
}

/**
 * A refusal from the safe walk, as the user's error (it names the path they gave, never
 * content). A symlink whose text points outside the allowed directories is refused as a path
 * outside them (never followed to find out more).
 */
async function asUserError(
  error: unknown,
  param: string,
  value: string,
  dirs: readonly string[],
  cluster: string,
  named: readonly string[] = dirs,
): Promise<unknown> {
  if (!(error instanceof UnsafePathError)) return error;
  if (error.reason === "symlink" && error.target !== undefined) {
    const target = error.target;
    const inside = await locate(param, target, dirs, cluster).then(
      () => true,
      () => false,
    );
    if (!inside) return outside(param, value, cluster, named);
  }
  return apiError("invalid_path", { param, path: value, problem: describe(error.reason) }, { param });
}

/** Check an open directory on the way to a file: the user must be able to pass through it. */
async function checkPassage(handle: FileHandle, policy: WalkPolicy, param: string, value: string, isRoot: boolean) {
  if (policy.mode === "service") return;
  const info = await handle.stat();
  if (policy.mode === WORLD_ROOT) {
    if (!isRoot && !worldMay(info, { search: true })) throw denied(param, value, NOT_WORLD_READABLE_ROOT);
    return;
  }
  if (policy.mode === "posix" && !accountMay(info, policy.account, { search: true })) {
    throw denied(
      param,
      value,
      `cannot be reached by your account '${policy.account.name}' (a directory on the way is closed to it)`,
    );
  }
  if (policy.mode === "world" && !isRoot && !worldMay(info, { search: true })) {
    throw denied(param, value, NOT_WORLD_READABLE);
  }
}

/**
 * A batch input file on shared storage: absolute, no `..`, inside an allowed directory as
 * written, no symlink below it, a regular file, and readable under the policy. Returns its
 * path and identity (to be opened again by the worker and compared).
 *
 * Outside the allowed directories, a path under one of `worldRoots` (the cluster's
 * `batch.worldReadableRoots`) is accepted only when everyone may read it: the same walk finds
 * every directory below the root o+x and the file o+r, whatever `batch.fileAccess` says and
 * whoever the user is. Outside both, 403 `path_not_allowed` as before.
 */
export async function authoriseInput(
  value: string,
  dirs: readonly string[],
  cluster: string,
  policy: FilePolicy = SERVICE,
  param = "input_file",
  worldRoots: readonly string[] = [],
): Promise<Checked> {
  checkShape(param, value);
  let where: { base: string; root: string; names: string[] };
  let walk: WalkPolicy = policy;
  try {
    where = await locate(param, value, dirs, cluster);
  } catch (error) {
    if (worldRoots.length === 0) throw error;
    where = await locate(param, value, worldRoots, cluster).catch(() => {
      throw error; // the answer for a path outside everything names the allowed directories only
    });
    walk = { mode: WORLD_ROOT };
  }
  const { base, root, names } = where;
  const inWorldRoot = walk.mode === WORLD_ROOT;
  const reachable = inWorldRoot ? [...dirs, ...worldRoots] : dirs;
  const last = names.at(-1);
  if (last === undefined)
    throw apiError("invalid_path", { param, path: value, problem: "is not a regular file" }, { param });
  let dir: FileHandle | undefined;
  let file: FileHandle | undefined;
  try {
    dir = await openRoot(root);
    await checkPassage(dir, walk, param, value, true);
    for (const name of names.slice(0, -1)) {
      const next = await openDirAt(dir, name, value);
      await closeAll(dir);
      dir = next;
      await checkPassage(dir, walk, param, value, false);
    }
    file = await openFileAt(dir, last, value);
    const info = await file.stat();
    if (walk.mode === WORLD_ROOT && !worldMay(info, { read: true })) {
      throw denied(param, value, NOT_WORLD_READABLE_ROOT);
    }
    if (walk.mode === "posix" && !accountMay(info, walk.account, { read: true })) {
      throw denied(param, value, `cannot be read by your account '${walk.account.name}'`);
    }
    if (walk.mode === "world" && !worldMay(info, { read: true })) {
      throw denied(param, value, NOT_WORLD_READABLE);
    }
    const ref = await refOfHandle(file);
    const checked: Checked = { path: path.join(root, ...names), ref: { base, root, ...ref } };
    if (inWorldRoot) checked.worldReadableRoot = true;
    return checked;
  } catch (error) {
    throw await asUserError(error, param, value, reachable, cluster, dirs);
  } finally {
    await closeAll(dir, file);
  }
}

/**
 * A folder for a batch's output: absolute, no `..`, inside an allowed directory as written,
 * no symlink below it. Missing folders are created (by the service) where the policy lets
 * the user write: in `posix` mode the deepest existing folder must be writable by the user's
 * account; in `world` mode the folder must be the user's own `<allowed dir>/<username>` (made
 * by the service, writable by nobody else) or below it.
 */
export async function authoriseOutputFolder(
  value: string,
  dirs: readonly string[],
  cluster: string,
  policy: FilePolicy = SERVICE,
  param = "output_folder_path",
): Promise<Checked> {
  checkShape(param, value);
  const { base, root, names } = await locate(param, value, dirs, cluster);
  if (policy.mode === "world" && names[0] !== policy.username) {
    throw denied(
      param,
      value,
      `is not in your folder '${path.join(base, policy.username)}': batches write only there on this service`,
    );
  }
  const need: Want = { write: true, search: true };
  let dir: FileHandle | undefined;
  let created = false;
  try {
    dir = await openRoot(root);
    await checkPassage(dir, policy, param, value, true);
    for (const [index, name] of names.entries()) {
      let next: FileHandle;
      try {
        next = await openDirAt(dir, name, value);
        if (policy.mode === "world" && index === 0) await checkOwnFolder(next, param, value);
        else if (!created) await checkPassage(next, policy, param, value, false);
      } catch (error) {
        if (!(error instanceof UnsafePathError && error.reason === "missing")) throw error;
        if (policy.mode === "posix" && !created && !accountMay(await dir.stat(), policy.account, need)) {
          throw denied(param, value, `cannot be created: your account '${policy.account.name}' cannot write there`);
        }
        next = await makeDirAt(dir, name, value).catch(async (made: unknown) => {
          if (made instanceof UnsafePathError && made.reason === "exists")
            return openDirAt(dir as FileHandle, name, value);
          throw made;
        });
        created = true;
      }
      await closeAll(dir);
      dir = next;
    }
    if (policy.mode === "posix" && !created && !accountMay(await dir.stat(), policy.account, need)) {
      throw denied(param, value, `is not writable by your account '${policy.account.name}'`);
    }
    const ref = await refOfHandle(dir);
    return { path: path.join(root, ...names), ref: { base, root, ...ref } };
  } catch (error) {
    throw await asUserError(error, param, value, dirs, cluster);
  } finally {
    await closeAll(dir);
  }
}

/** `world` mode: a user's folder is the service's own, writable by nobody else. */
async function checkOwnFolder(handle: FileHandle, param: string, value: string): Promise<void> {
  const info = await handle.stat();
  const owner = typeof process.geteuid === "function" ? process.geteuid() : info.uid;
  if (info.uid !== owner || (info.mode & 0o022) !== 0) {
    throw denied(
      param,
      value,
      "is in a folder this service did not make for you (it must own it, and no one else write in it)",
    );
  }
}

/** Compatibility: the checked input path (the service's rights). */
export async function checkInputFile(
  value: string,
  dirs: readonly string[],
  cluster: string,
  param = "input_file",
): Promise<string> {
  return (await authoriseInput(value, dirs, cluster, SERVICE, param)).path;
}

/** Compatibility: the checked (and created) output folder (the service's rights). */
export async function prepareOutputDir(
  value: string,
  dirs: readonly string[],
  cluster: string,
  param = "output_folder_path",
): Promise<string> {
  return (await authoriseOutputFolder(value, dirs, cluster, SERVICE, param)).path;
}
