import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, realpathSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { type Database, openDatabase } from "./client";
import { loadMigrations, migrate } from "./migrate";
import { pgliteSession } from "./sql";

/**
 * Real databases for tests: a fresh in-memory PGlite, and a fresh PostgreSQL database per
 * test file (created on the server at SWITCHYARD_TEST_POSTGRES_URL, dropped afterwards).
 * With SWITCHYARD_REQUIRE_SERVICES=1 (CI) an unreachable PostgreSQL fails the run instead of
 * skipping the PostgreSQL half.
 */

export const TEST_POSTGRES_URL =
  process.env.SWITCHYARD_TEST_POSTGRES_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";

export const servicesRequired = process.env.SWITCHYARD_REQUIRE_SERVICES === "1";

/**
 * The browser of the browser tests and the benchmark's charts: Debian's chromium
 * (`./scripts/chromium.sh` installs it), driven by playwright-core; `npx playwright install`
 * cannot work here.
 */
export const CHROMIUM = process.env.SWITCHYARD_CHROMIUM ?? "/usr/bin/chromium";

/** Its launch flags: without the networking ones chromium stalls on a closed network. */
export const CHROMIUM_ARGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Whether chromium is here; missing with SWITCHYARD_REQUIRE_SERVICES=1 is a failure, otherwise
 * a warning that `skipping` (what is left out) is skipped.
 */
export function chromiumAvailable(skipping: string): boolean {
  if (existsSync(CHROMIUM)) return true;
  const message = `chromium is not installed at ${CHROMIUM} (sudo ./scripts/chromium.sh installs it)`;
  if (servicesRequired) throw new Error(`${message}; SWITCHYARD_REQUIRE_SERVICES=1 forbids skipping`);
  console.warn(`${message}: skipping ${skipping}`);
  return false;
}

export type TestDriver = "pglite" | "postgres";

let availability: Promise<string | undefined> | undefined;

/** Undefined when PostgreSQL answers; otherwise why not. */
function postgresProblem(): Promise<string | undefined> {
  availability ??= (async () => {
    const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 3000 });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.query("SELECT 1");
      return undefined;
    } catch (error) {
      return (error as Error).message || String(error);
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return availability;
}

/**
 * The drivers to run a suite on. PostgreSQL is left out (with a warning) only when it is
 * unreachable and services are not required; when required, this throws.
 */
export async function testDrivers(): Promise<TestDriver[]> {
  const problem = await postgresProblem();
  if (!problem) return ["pglite", "postgres"];
  const message = `PostgreSQL at ${TEST_POSTGRES_URL} is not reachable (${problem})`;
  if (servicesRequired) throw new Error(`${message}; SWITCHYARD_REQUIRE_SERVICES=1 forbids skipping`);
  console.warn(`${message}: running the PGlite half only`);
  return ["pglite"];
}

export interface TestPostgresDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A new empty database on the test server, with a URL pointing at it. */
export async function createPostgresDatabase(prefix = "sy_test"): Promise<TestPostgresDatabase> {
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

export interface TestDatabase extends Database {
  /** For PostgreSQL: the URL of this test's own database. */
  url?: string;
}

let template: Promise<Blob> | undefined;

/**
 * A dump of a freshly migrated PGlite database. Creating a PGlite database runs initdb (a
 * second or more of CPU); loading a dump takes a fraction of that. The dump is kept in the
 * temp dir under a name derived from the migrations and the PGlite build, so test files and
 * runs share it and a changed migration makes a new one.
 */
export function pgliteTemplate(): Promise<Blob> {
  template ??= (async () => {
    const migrations = await loadMigrations();
    const build = realpathSync(createRequire(import.meta.url).resolve("@electric-sql/pglite"));
    const key = createHash("sha256")
      .update(build)
      .update(migrations.map((m) => `${m.name}:${m.checksum}`).join("\n"))
      .digest("hex")
      .slice(0, 16);
    const file = path.join(tmpdir(), `switchyard-test-pglite-${key}.tar`);
    try {
      return new Blob([readFileSync(file)]);
    } catch {
      // not made yet: make it below
    }
    const pglite = new PGlite();
    try {
      await migrate(pgliteSession(pglite), migrations);
      const dump = await pglite.dumpDataDir("none");
      const bytes = Buffer.from(await dump.arrayBuffer());
      // Written aside and renamed, so a concurrent reader never sees half a file.
      const partial = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
      writeFileSync(partial, bytes);
      renameSync(partial, file);
      return new Blob([bytes]);
    } finally {
      await pglite.close();
    }
  })();
  return template;
}

/** A migrated, empty database on the given driver; `close()` also drops a PostgreSQL one. */
export async function openTestDatabase(driver: TestDriver, options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  if (driver === "pglite") {
    if (options.migrate ?? true) return openDatabase({ driver: "pglite", loadDataDir: await pgliteTemplate() });
    return openDatabase({ driver: "pglite" });
  }
  const created = await createPostgresDatabase();
  const db = await openDatabase({ driver: "postgres", url: created.url, poolSize: 4 });
  if (options.migrate ?? true) await db.migrate();
  return {
    ...db,
    url: created.url,
    async close() {
      await db.close();
      await created.drop();
    },
  };
}

export const TEST_REDIS_URL = process.env.SWITCHYARD_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/**
 * Whether Redis answers at SWITCHYARD_TEST_REDIS_URL. Unreachable: false (with a warning), or
 * a thrown error when SWITCHYARD_REQUIRE_SERVICES=1.
 */
export async function redisAvailable(): Promise<boolean> {
  const url = new URL(TEST_REDIS_URL);
  const { createConnection } = await import("node:net");
  const reachable = await new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: url.hostname, port: Number(url.port || 6379) });
    socket.setTimeout(2000);
    socket.once("connect", () => {
      socket.end();
      resolve(true);
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(false));
  });
  if (reachable) return true;
  const message = `Redis at ${TEST_REDIS_URL} is not reachable`;
  if (servicesRequired) throw new Error(`${message}; SWITCHYARD_REQUIRE_SERVICES=1 forbids skipping`);
  console.warn(`${message}: skipping the Redis tests`);
  return false;
}

/**
 * A TCP proxy in front of a test service (Redis, PostgreSQL) that a test can cut (the service
 * "lost") and restore, without stopping the machine's shared service.
 */
export interface ServiceCut {
  /** The service's URL through the proxy (same credentials and database, the proxy's port). */
  url: string;
  /** Drop every open connection and refuse new ones (accepted, then closed at once). */
  cut(): void;
  /** Keep every connection open but pass nothing on (a service that hangs, a network that drops packets). */
  stall(): void;
  /** Let connections through again. */
  restore(): void;
  close(): Promise<void>;
}

/** A Redis that a test can lose. */
export type RedisCut = ServiceCut;

/** Proxy `targetUrl` (its host and port, `defaultPort` when it names none) through a local port. */
export async function startServiceCut(targetUrl: string, defaultPort: number): Promise<ServiceCut> {
  const target = new URL(targetUrl);
  const { createServer, createConnection } = await import("node:net");
  let open = true;
  let stalled = false;
  const sockets = new Set<import("node:net").Socket>();
  const track = (socket: import("node:net").Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => {});
  };
  const server = createServer((client) => {
    track(client);
    if (!open) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: target.hostname, port: Number(target.port || defaultPort) });
    track(upstream);
    client.on("data", (chunk) => {
      if (!stalled) upstream.write(chunk);
    });
    upstream.on("data", (chunk) => {
      if (!stalled) client.write(chunk);
    });
    client.once("close", () => upstream.destroy());
    upstream.once("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as import("node:net").AddressInfo;
  const url = new URL(targetUrl);
  url.hostname = "127.0.0.1";
  url.port = String(port);
  const dropAll = () => {
    for (const socket of sockets) socket.destroy();
  };
  return {
    url: url.toString(),
    cut() {
      open = false;
      dropAll();
    },
    stall() {
      stalled = true;
    },
    restore() {
      open = true;
      stalled = false;
    },
    close() {
      dropAll();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Lose Redis in a test without stopping the machine's shared Redis: clients connect through this. */
export function startRedisCut(): Promise<RedisCut> {
  return startServiceCut(TEST_REDIS_URL, 6379);
}

/**
 * Lose PostgreSQL in a test without stopping the machine's shared one: give the process under
 * test `url` (a database of its own, e.g. from `createPostgresDatabase`) and cut it.
 */
export function startPostgresCut(databaseUrl: string): Promise<ServiceCut> {
  return startServiceCut(databaseUrl, 5432);
}
