import { constants } from "node:fs";
import { access, mkdir, open, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { type ClusterConfig, sy } from "@switchyard/core";

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

function inside(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent.endsWith(path.sep) ? parent : parent + path.sep);
}

/** The allowed directories as the filesystem resolves them (symlinked roots followed); missing ones dropped. */
async function realDirs(dirs: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const dir of dirs) {
    try {
      out.push(await realpath(dir));
    } catch {
      // a configured directory that does not exist (yet) allows nothing
    }
  }
  return out;
}

function checkShape(param: string, value: string): void {
  if (value.includes("\0"))
    throw sy("invalid_path", { param, path: value.replace(/\0/g, "\\0"), problem: "contains a NUL byte" });
  if (!path.isAbsolute(value))
    throw sy("invalid_path", { param, path: value, problem: "must be an absolute path" }, { param });
  if (value.split(/[\\/]+/).includes("..")) {
    throw sy("invalid_path", { param, path: value, problem: "must not contain '..'" }, { param });
  }
}

function outside(param: string, value: string, cluster: string, dirs: readonly string[]) {
  return sy(
    "path_not_allowed",
    { param, path: value, cluster, dirs: dirs.length > 0 ? dirs.join(", ") : "none are configured" },
    { param },
  );
}

/**
 * A batch input file on shared storage: absolute, no `..`, inside an allowed directory once
 * every symlink is followed, a regular file, readable. Returns the resolved path.
 */
export async function checkInputFile(
  value: string,
  dirs: readonly string[],
  cluster: string,
  param = "input_file",
): Promise<string> {
  checkShape(param, value);
  let real: string;
  try {
    real = await realpath(value);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw sy(
      "invalid_path",
      { param, path: value, problem: code === "EACCES" ? "cannot be read (permission denied)" : "does not exist" },
      { param },
    );
  }
  if (!(await realDirs(dirs)).some((dir) => inside(real, dir))) throw outside(param, value, cluster, dirs);
  const info = await stat(real);
  if (!info.isFile()) throw sy("invalid_path", { param, path: value, problem: "is not a regular file" }, { param });
  try {
    await access(real, constants.R_OK);
    const handle = await open(real, "r");
    await handle.close();
  } catch {
    throw sy("invalid_path", { param, path: value, problem: "cannot be read (permission denied)" }, { param });
  }
  return real;
}

/**
 * A folder for a batch's output: absolute, no `..`, inside an allowed directory once symlinks
 * are followed (for the part that exists), a directory if it exists. Created when missing.
 */
export async function prepareOutputDir(
  value: string,
  dirs: readonly string[],
  cluster: string,
  param = "output_folder_path",
): Promise<string> {
  checkShape(param, value);
  const allowed = await realDirs(dirs);
  // The nearest part of the path that exists decides where it really leads.
  let existing = path.resolve(value);
  const missing: string[] = [];
  for (;;) {
    try {
      existing = await realpath(existing);
      break;
    } catch {
      const parent = path.dirname(existing);
      if (parent === existing) throw outside(param, value, cluster, dirs);
      missing.unshift(path.basename(existing));
      existing = parent;
    }
  }
  const target = path.join(existing, ...missing);
  if (!allowed.some((dir) => inside(target, dir))) throw outside(param, value, cluster, dirs);
  if (missing.length === 0 && !(await stat(target)).isDirectory()) {
    throw sy("invalid_path", { param, path: value, problem: "is not a directory" }, { param });
  }
  await mkdir(target, { recursive: true });
  const real = await realpath(target);
  if (!allowed.some((dir) => inside(real, dir))) throw outside(param, value, cluster, dirs);
  return real;
}
