import { closeSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { type DataDirHolder, DataDirLockedError } from "./errors";

const LOCK_FILE = "switchyard.lock";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readHolder(file: string): DataDirHolder | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as DataDirHolder;
  } catch {
    return undefined;
  }
}

/** Who holds the data dir now, if a live process does. */
export function dataDirHolder(dataDir: string): DataDirHolder | undefined {
  const holder = readHolder(path.join(dataDir, LOCK_FILE));
  if (!holder) return undefined;
  if (holder.hostname === hostname() && !alive(holder.pid)) return undefined;
  return holder;
}

export interface DataDirLock {
  /** Record where the holder serves HTTP, so other commands can point users to it. */
  setUrl(url: string): void;
  release(): void;
}

/**
 * Take the data dir for this process. PGlite is single-process: a second opener would corrupt
 * it, so a second `serve` or an admin command gets a clear error naming the holder instead.
 * A lock left by a dead process on this host is taken over.
 */
export function lockDataDir(dataDir: string, command: string): DataDirLock {
  const file = path.join(dataDir, LOCK_FILE);
  const holder: DataDirHolder = {
    pid: process.pid,
    hostname: hostname(),
    command,
    startedAt: new Date().toISOString(),
  };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, "wx", 0o644);
      writeSync(fd, JSON.stringify(holder));
      closeSync(fd);
      let released = false;
      return {
        setUrl(url) {
          holder.url = url;
          const tmp = `${file}.${process.pid}`;
          writeFileSync(tmp, JSON.stringify(holder));
          renameSync(tmp, file);
        },
        release() {
          if (released) return;
          released = true;
          if (readHolder(file)?.pid === process.pid) rmSync(file, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const current = dataDirHolder(dataDir);
      if (current) throw new DataDirLockedError(dataDir, current);
      rmSync(file, { force: true }); // stale: its process is gone
    }
  }
  throw new DataDirLockedError(dataDir, readHolder(file) ?? holder);
}
