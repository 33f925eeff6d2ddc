import { randomBytes } from "node:crypto";
import fs, { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { TokenStoreError } from "../errors";

/** One server's login: what `sy login` stored and what refreshing keeps up to date. */
export interface StoredSession {
  username: string;
  user_id: string;
  access_token: string;
  refresh_token: string;
  /** When the access token expires, by this machine's clock (from the server's `expires_in`). */
  expires_at: string;
  /** The last interactive login; refresh tokens stop working 7 days after it. */
  logged_in_at: string;
  refreshed_at: string | null;
  client_id: string;
}

export interface TokenFile {
  version: 1;
  /** The server of the last `sy login`, used when neither --server nor SWITCHYARD_URL names one. */
  default_server: string | null;
  /** One entry per server, keyed by its normalized URL. */
  servers: Record<string, StoredSession>;
}

/** `$XDG_CONFIG_HOME/switchyard/tokens.json`, else `~/.config/switchyard/tokens.json`. */
export function defaultTokenPath(env: NodeJS.ProcessEnv = process.env): string {
  const base =
    env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(homedir(), ".config");
  return path.join(base, "switchyard", "tokens.json");
}

const SESSION_FIELDS = [
  "username",
  "user_id",
  "access_token",
  "refresh_token",
  "expires_at",
  "logged_in_at",
  "client_id",
] as const;

function emptyFile(): TokenFile {
  return { version: 1, default_server: null, servers: {} };
}

/** What is wrong with a parsed token file, or undefined when it is sound. */
function problemOf(data: unknown): string | undefined {
  if (typeof data !== "object" || data === null || Array.isArray(data)) return "does not hold a JSON object";
  const file = data as Record<string, unknown>;
  if (file.version !== 1) return `has an unknown version (${JSON.stringify(file.version)}; this sy reads version 1)`;
  if (file.default_server !== null && typeof file.default_server !== "string") return "has a bad 'default_server'";
  if (typeof file.servers !== "object" || file.servers === null || Array.isArray(file.servers)) {
    return "has no 'servers' object";
  }
  for (const [server, entry] of Object.entries(file.servers)) {
    if (typeof entry !== "object" || entry === null) return `has a bad entry for ${server}`;
    for (const field of SESSION_FIELDS) {
      if (typeof (entry as Record<string, unknown>)[field] !== "string") {
        return `has a bad entry for ${server} (field '${field}' is missing or not a string)`;
      }
    }
    if (!Number.isFinite(Date.parse((entry as StoredSession).expires_at))) {
      return `has a bad entry for ${server} ('expires_at' is not a date)`;
    }
  }
  return undefined;
}

/**
 * The lock (proper-lockfile's protocol, which switchyard_auth.py keeps too): `<path>.lock` is a
 * directory made exclusively, whose holder touches it every LOCK_UPDATE_MS; one not touched for
 * LOCK_STALE_MS was left by a process that died (or a machine that slept) and is taken over.
 */
const LOCK_STALE_MS = 10_000;
const LOCK_UPDATE_MS = 2_000;
/** How long to wait for a lock that stays held before saying so (by default). */
const LOCK_WAIT_MS = 40_000;

/**
 * node:fs for proper-lockfile, except that a stale lock can also be a file: the `pid@host` file
 * of sy and switchyard_auth.py before they took up this protocol (copies of the helper stay in
 * use for long). Both kinds exclude each other, since neither can be made where the other is.
 */
const lockFs = {
  ...fs,
  rmdir(dir: string, callback: (error: NodeJS.ErrnoException | null) => void) {
    fs.rmdir(dir, (error) => (error?.code === "ENOTDIR" ? fs.unlink(dir, callback) : callback(error)));
  },
  rmdirSync(dir: string) {
    try {
      fs.rmdirSync(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOTDIR") throw error;
      fs.unlinkSync(dir);
    }
  },
};

/**
 * The token file: mode 0600 in a 0700 directory, one entry per server, replaced atomically
 * (write a temporary file, fsync, rename) under a lock file, so that several `sy` processes
 * refreshing at once never tear it or present the same refresh token twice (which the server
 * treats as theft and answers by ending the session).
 */
export class TokenStore {
  readonly path: string;
  private readonly lockWaitMs: number;

  constructor(file: string = defaultTokenPath(), options: { lockWaitMs?: number } = {}) {
    this.path = path.resolve(file);
    this.lockWaitMs = options.lockWaitMs ?? LOCK_WAIT_MS;
  }

  private get fix(): string {
    return `Fix: run 'sy login --force', which starts a new file (keeping this one as ${this.path}.corrupt), or delete it and run 'sy login'.`;
  }

  /** The file's contents; an empty store when it does not exist yet. */
  read(): TokenFile {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return emptyFile();
      if (code === "EACCES") {
        throw new TokenStoreError(
          this.path,
          "cannot be read (permission denied)",
          "Fix: check its owner and mode (it should be yours, mode 600).",
        );
      }
      if (code === "EISDIR")
        throw new TokenStoreError(this.path, "is a directory", "Fix: move it away and run 'sy login'.");
      throw new TokenStoreError(this.path, `cannot be read (${(error as Error).message})`, this.fix);
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (error) {
      throw new TokenStoreError(this.path, `is not valid JSON (${(error as Error).message})`, this.fix);
    }
    const problem = problemOf(data);
    if (problem) throw new TokenStoreError(this.path, `is damaged: it ${problem}`, this.fix);
    const file = data as TokenFile;
    for (const entry of Object.values(file.servers)) entry.refreshed_at ??= null;
    return file;
  }

  get(server: string): StoredSession | undefined {
    return this.read().servers[server];
  }

  /** Read, change and write the file under the lock; `change` may be async (a refresh). */
  async update<T>(change: (file: TokenFile) => T | Promise<T>): Promise<T> {
    return this.withLock(async () => {
      const file = this.read();
      const result = await change(file);
      this.write(file);
      return result;
    });
  }

  /** Move a damaged file aside (to `<path>.corrupt`), so a new login can start over. */
  moveAside(): string | undefined {
    const target = `${this.path}.corrupt`;
    try {
      renameSync(this.path, target);
      return target;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new TokenStoreError(
        this.path,
        `cannot be moved aside (${(error as Error).message})`,
        "Fix: delete it and run 'sy login'.",
      );
    }
  }

  /** Write the whole file atomically with mode 0600. */
  write(file: TokenFile): void {
    const dir = path.dirname(this.path);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const tmp = `${this.path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
      const fd = openSync(tmp, "wx", 0o600);
      try {
        writeSync(fd, `${JSON.stringify(file, null, 2)}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      chmodSync(tmp, 0o600); // in case a umask narrowed nothing but a filesystem widened it
      renameSync(tmp, this.path);
    } catch (error) {
      throw new TokenStoreError(
        this.path,
        `cannot be written (${(error as Error).message})`,
        `Fix: make ${dir} writable for you, or set XDG_CONFIG_HOME to a directory that is.`,
      );
    }
  }

  /** Run `work` holding `<path>.lock` (see LOCK_STALE_MS). */
  async withLock<T>(work: () => Promise<T>): Promise<T> {
    const lock = `${this.path}.lock`;
    try {
      mkdirSync(path.dirname(this.path), { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new TokenStoreError(
        this.path,
        `cannot be created (${(error as Error).message})`,
        "Fix: set XDG_CONFIG_HOME to a writable directory.",
      );
    }
    // Loaded when first needed: it installs exit handlers (to remove held locks) in the process.
    const { lock: acquire } = await import("proper-lockfile");
    let release: () => Promise<void>;
    try {
      release = await acquire(this.path, {
        lockfilePath: lock,
        realpath: false, // the token file need not exist yet
        stale: LOCK_STALE_MS,
        update: LOCK_UPDATE_MS,
        retries: { retries: 1000, factor: 1.2, minTimeout: 25, maxTimeout: 100, maxRetryTime: this.lockWaitMs },
        fs: lockFs,
        // The lock was not touched in time (the machine slept, say). Its default throws where
        // nobody can catch it, ending the process; the update goes on instead and writes what
        // it got: a refresh token already rotated by the server is worth keeping.
        onCompromised: () => {},
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ELOCKED") {
        throw new TokenStoreError(
          this.path,
          "stays locked by another sy or switchyard_auth.py process",
          `Fix: if none is running, delete ${lock} (rm -r ${lock}).`,
        );
      }
      throw new TokenStoreError(
        this.path,
        `cannot be locked (${(error as Error).message})`,
        "Fix: make its directory writable for you.",
      );
    }
    try {
      return await work();
    } finally {
      await release().catch(() => {}); // already released when it was lost
    }
  }
}
