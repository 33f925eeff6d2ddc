import { spawn } from "node:child_process";
import { accessSync, constants, existsSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import v8 from "node:v8";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { DatabaseOpenError } from "./errors";
import { PrismaClient } from "./generated/prisma/client";
import { type DataDirLock, lockDataDir } from "./lock";
import { type MigrationReport, migrate } from "./migrate";
import { pgliteSession, pgSession, type SqlSession } from "./sql";

export interface LeaderLock {
  /** Resolves when the lock is lost (the connection dropped); never for PGlite. */
  lost: Promise<void>;
  release(): Promise<void>;
}

export type DatabaseOptions =
  | {
      driver: "pglite";
      /** The data dir (PGlite keeps its files in `<dataDir>/pgdata`); omit for an in-memory database. */
      dataDir?: string;
      /** Names the holder in the data dir's lock file, for other commands' messages. */
      command?: string;
      /**
       * For an in-memory database: start from this dump of a data dir (`PGlite.dumpDataDir`)
       * instead of an empty one. Tests load a migrated template this way, which is several
       * times faster than creating and migrating a new database.
       */
      loadDataDir?: Blob;
    }
  | { driver: "postgres"; url: string; poolSize?: number };

export interface Database {
  readonly prisma: PrismaClient;
  readonly driver: "pglite" | "postgres";
  /** Where the data is, without secrets: a directory, or host:port/database. */
  readonly location: string;
  readonly lock: DataDirLock | undefined;
  /** Apply pending migrations (idempotent). */
  migrate(): Promise<MigrationReport>;
  /**
   * One parameterised statement outside Prisma, for bulk writes where Prisma's per-row cost
   * matters (usage records): PGlite's own instance, or the PostgreSQL pool.
   */
  execute(sql: string, params: unknown[]): Promise<number>;
  /**
   * One parameterised read outside Prisma, for loops that run several times a second (the
   * scheduler's reconcile pass): Prisma's query compiler costs milliseconds of CPU per call,
   * a raw read a tenth of that. Rows come back as the driver parses them (Date for timestamptz).
   */
  query<T extends Record<string, unknown>>(sql: string, params: unknown[]): Promise<T[]>;
  /** Raw SQL outside Prisma (PGlite: the same instance; PostgreSQL: a dedicated connection). */
  withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T>;
  /**
   * Try to become the holder of a named lock for as long as this process (and its dedicated
   * connection) lives: a PostgreSQL session advisory lock, so exactly one process leads.
   * With PGlite, which one process owns, the lock is always granted.
   */
  tryLeaderLock(key: number): Promise<LeaderLock | undefined>;
  /** Whether the database answers a trivial query within the timeout. */
  ping(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

/** PostgreSQL when DATABASE_URL is set, otherwise PGlite in the data dir. */
export function databaseOptions(input: {
  dataDir: string;
  databaseUrl?: string | undefined;
  command?: string;
}): DatabaseOptions {
  if (input.databaseUrl) return { driver: "postgres", url: input.databaseUrl };
  return { driver: "pglite", dataDir: input.dataDir, command: input.command ?? "switchyard" };
}

/** `postgresql://user:secret@db:5432/app` -> `db:5432/app`. */
export function describePostgresUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname || "localhost"}:${parsed.port || "5432"}${parsed.pathname || "/"}`;
  } catch {
    return "(unparseable DATABASE_URL)";
  }
}

function postgresError(error: unknown, where: string): DatabaseOpenError {
  const err = error as NodeJS.ErrnoException & { code?: string; message: string };
  const reasons: Record<string, string> = {
    ECONNREFUSED: "connection refused (is PostgreSQL running there?)",
    ENOTFOUND: "host not found",
    EAI_AGAIN: "host name lookup failed",
    ETIMEDOUT: "connection timed out",
    EHOSTUNREACH: "host unreachable",
    "3D000": "the database does not exist (create it first)",
    "28P01": "password authentication failed",
    "28000": "the server refused the user",
  };
  const reason = (err.code && reasons[err.code]) || err.message.split("\n")[0] || String(error);
  return new DatabaseOpenError(`cannot connect to PostgreSQL at ${where}: ${reason}`, { cause: error });
}

/** The longest a pooled query waits for PostgreSQL's answer before it fails (ms). */
export const QUERY_TIMEOUT_MS = 30_000;

async function openPostgres(url: string, poolSize = 10): Promise<Database> {
  const where = describePostgresUrl(url);
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new DatabaseOpenError(`DATABASE_URL must be a postgresql:// URL (got ${url.split(":")[0]}:...)`);
  }
  // Connect once up front so a wrong URL fails now, with a message naming the host.
  const probe = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  probe.on("error", () => {}); // a dropped idle connection must not crash the process
  try {
    await probe.connect();
  } catch (error) {
    await probe.end().catch(() => {});
    throw postgresError(error, where);
  }
  await probe.end();

  // Our own pool, so an idle connection dropped by the server (restart, failover) is an event
  // we absorb, not an unhandled 'error' that kills the process.
  // A PostgreSQL that stops answering without closing the connection (a host gone, a network
  // that drops packets) must fail queries, not hang them and the requests behind them: TCP
  // keepalive notices a dead peer, and no query waits longer than QUERY_TIMEOUT_MS.
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    connectionTimeoutMillis: 5000,
    query_timeout: QUERY_TIMEOUT_MS,
    keepAlive: true,
  });
  pool.on("error", () => {});
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  const withSession = async <T>(fn: (session: SqlSession) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    client.on("error", () => {});
    try {
      await client.connect();
    } catch (error) {
      throw postgresError(error, where);
    }
    try {
      return await fn(pgSession(client));
    } finally {
      await client.end().catch(() => {});
    }
  };
  let closed = false;
  return {
    prisma,
    driver: "postgres",
    location: where,
    lock: undefined,
    migrate: () => withSession((session) => migrate(session)),
    async execute(sql, params) {
      const result = await pool.query(sql, params);
      return result.rowCount ?? 0;
    },
    async query<T extends Record<string, unknown>>(sql: string, params: unknown[]) {
      return (await pool.query(sql, params)).rows as T[];
    },
    withSession,
    async tryLeaderLock(key) {
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
      let markLost: () => void = () => {};
      const lost = new Promise<void>((resolve) => {
        markLost = resolve;
      });
      client.on("error", () => markLost());
      client.on("end", () => markLost());
      try {
        await client.connect();
        const rows = await client.query<{ held: boolean }>("SELECT pg_try_advisory_lock($1) AS held", [key]);
        if (rows.rows[0]?.held) {
          return {
            lost,
            async release() {
              await client.query("SELECT pg_advisory_unlock($1)", [key]).catch(() => {});
              await client.end().catch(() => {});
            },
          };
        }
      } catch (error) {
        await client.end().catch(() => {});
        throw postgresError(error, where);
      }
      await client.end().catch(() => {});
      return undefined;
    },
    ping: (timeoutMs) => pingPrisma(prisma, timeoutMs),
    async close() {
      if (closed) return;
      closed = true;
      await prisma.$disconnect();
      await pool.end().catch(() => {});
    },
  };
}

/**
 * PGlite's server settings, given at every open. Its initdb writes PostgreSQL's stock 128 MB of
 * shared buffers, which PGlite touches as it starts (about 125 MB of resident memory): a server's
 * cache for a database of tens of megabytes whose files the OS caches anyway.
 */
export const PGLITE_START_PARAMS: readonly string[] = [...PGlite.defaultStartParams, "-c", "shared_buffers=16MB"];

/**
 * Create a new PGlite data dir in a short-lived child process. initdb runs in its own wasm
 * instance whose memory (about 430 MB in PGlite 0.5) the process never gets back: done in
 * `serve` itself, a first start held it for the process's whole life.
 */
async function createPgliteDataDir(pgdata: string): Promise<void> {
  const entry = createRequire(import.meta.url).resolve("@electric-sql/pglite");
  const script = `const { PGlite } = require(${JSON.stringify(entry)});
(async () => {
  const db = new PGlite(process.argv[1], { startParams: ${JSON.stringify(PGLITE_START_PARAMS)} });
  await db.waitReady;
  await db.close();
})().catch((error) => { process.stderr.write(String(error && error.message || error)); process.exit(1); });`;
  const output: string[] = [];
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, ["-e", script, pgdata], { stdio: ["ignore", "ignore", "pipe"] });
    child.stderr.on("data", (chunk) => output.push(String(chunk)));
    child.once("error", (error) => {
      output.push(error.message);
      resolve(null);
    });
    child.once("exit", resolve);
  });
  if (code !== 0) throw new Error(output.join("").trim() || `initdb exited with ${code}`);
}

/**
 * WebAssembly compiled by V8's baseline compiler only (Liftoff), from the first PGlite open on:
 * PGlite's 9 MB module (and Prisma's query compiler after it) tiered up by TurboFan cost the
 * process about 90 MB of resident memory (optimised code, and compiler zones that glibc keeps),
 * for queries that run about as fast on a database this size. PostgreSQL processes are untouched.
 */
function baselineWasmOnly(): void {
  v8.setFlagsFromString("--liftoff-only");
}

async function openPglite(dataDir: string | undefined, command: string, loadDataDir?: Blob): Promise<Database> {
  let lock: DataDirLock | undefined;
  let pgdata: string | undefined;
  if (dataDir !== undefined) {
    const dir = path.resolve(dataDir);
    try {
      mkdirSync(dir, { recursive: true });
      accessSync(dir, constants.W_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? "error";
      throw new DatabaseOpenError(
        `the data dir ${dir} cannot be created or written (${code}); pick another with --data-dir`,
        {
          cause: error,
        },
      );
    }
    lock = lockDataDir(dir, command);
    pgdata = path.join(dir, "pgdata");
  }
  let pglite: PGlite;
  try {
    if (pgdata !== undefined && !existsSync(path.join(pgdata, "PG_VERSION"))) await createPgliteDataDir(pgdata);
    baselineWasmOnly();
    const startParams = [...PGLITE_START_PARAMS];
    pglite =
      loadDataDir && pgdata === undefined
        ? new PGlite({ loadDataDir, startParams })
        : new PGlite(pgdata, { startParams });
    await pglite.waitReady;
  } catch (error) {
    lock?.release();
    throw new DatabaseOpenError(
      `cannot open the embedded database in ${pgdata ?? "memory"}: ${(error as Error).message ?? error}`,
      { cause: error },
    );
  }
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
  let closed = false;
  return {
    prisma,
    driver: "pglite",
    location: pgdata ?? "memory",
    lock,
    migrate: () => migrate(pgliteSession(pglite)),
    async execute(sql, params) {
      const result = await pglite.query(sql, params);
      return result.affectedRows ?? 0;
    },
    async query<T extends Record<string, unknown>>(sql: string, params: unknown[]) {
      return (await pglite.query<T>(sql, params)).rows;
    },
    withSession: (fn) => fn(pgliteSession(pglite)),
    // One process owns a PGlite database, so it always leads.
    tryLeaderLock: async () => ({ lost: new Promise<void>(() => {}), release: async () => {} }),
    ping: (timeoutMs) => pingPrisma(prisma, timeoutMs),
    async close() {
      if (closed) return;
      closed = true;
      await prisma.$disconnect();
      // $disconnect does not close PGlite; an unclosed PGlite leaves the data dir unclean.
      await pglite.close();
      lock?.release();
    },
  };
}

async function pingPrisma(prisma: PrismaClient, timeoutMs = 2000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([prisma.$queryRaw`SELECT 1`.then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** Open the database (without migrating; call `migrate()`), failing with one clear line. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.driver === "postgres") return openPostgres(options.url, options.poolSize);
  return openPglite(options.dataDir, options.command ?? "switchyard", options.loadDataDir);
}
