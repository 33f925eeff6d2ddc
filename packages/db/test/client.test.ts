import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DatabaseOpenError, DataDirLockedError, dataDirHolder, openDatabase } from "../src";
import { openTestDatabase, TEST_POSTGRES_URL, testDrivers } from "../src/testing";

const drivers = await testDrivers();
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "sy-db-"));
  dirs.push(dir);
  return dir;
}

async function openError(options: Parameters<typeof openDatabase>[0]): Promise<DatabaseOpenError> {
  try {
    const db = await openDatabase(options);
    await db.close();
  } catch (error) {
    expect(error).toBeInstanceOf(DatabaseOpenError);
    return error as DatabaseOpenError;
  }
  throw new Error("expected the database not to open");
}

describe("opening PostgreSQL with a bad DATABASE_URL", () => {
  it("names the host in one line when nothing listens there", async () => {
    const error = await openError({ driver: "postgres", url: "postgresql://sy:secret@127.0.0.1:1/switchyard" });
    expect(error.message).toBe(
      "cannot connect to PostgreSQL at 127.0.0.1:1/switchyard: connection refused (is PostgreSQL running there?)",
    );
    expect(error.message).not.toContain("secret");
  });

  it("says when the host does not resolve", async () => {
    const error = await openError({ driver: "postgres", url: "postgresql://db.invalid:5432/x" });
    expect(error.message).toMatch(
      /^cannot connect to PostgreSQL at db\.invalid:5432\/x: (host not found|host name lookup failed)$/,
    );
  });

  it("rejects a URL that is not PostgreSQL's", async () => {
    const error = await openError({ driver: "postgres", url: "mysql://root@127.0.0.1/x" });
    expect(error.message).toMatch(/must be a postgresql:\/\/ URL/);
  });

  it.runIf(drivers.includes("postgres"))("says when the database does not exist", async () => {
    const url = new URL(TEST_POSTGRES_URL);
    url.pathname = "/sy_no_such_database";
    const error = await openError({ driver: "postgres", url: url.toString() });
    expect(error.message).toMatch(/sy_no_such_database: the database does not exist/);
    expect(error.message.split("\n")).toHaveLength(1);
  });
});

describe("the embedded data dir", () => {
  it("fails clearly when the directory cannot be created", async () => {
    const file = path.join(tempDir(), "a-file");
    writeFileSync(file, "not a directory");
    const error = await openError({ driver: "pglite", dataDir: path.join(file, "data") });
    expect(error.message).toMatch(/the data dir .*a-file\/data cannot be created or written \(ENOTDIR\)/);
  });

  it("is held by one process at a time, and named in the refusal", async () => {
    const dir = tempDir();
    const first = await openDatabase({ driver: "pglite", dataDir: dir, command: "switchyard serve" });
    first.lock?.setUrl("http://127.0.0.1:8080");
    try {
      const error = await openError({ driver: "pglite", dataDir: dir, command: "switchyard migrate" });
      expect(error).toBeInstanceOf(DataDirLockedError);
      expect(error.message).toContain(`in use by 'switchyard serve' (pid ${process.pid}, http://127.0.0.1:8080)`);
      expect(dataDirHolder(dir)?.pid).toBe(process.pid);
    } finally {
      await first.close();
    }
    expect(dataDirHolder(dir)).toBeUndefined();
    const again = await openDatabase({ driver: "pglite", dataDir: dir });
    await again.close();
  });

  it("takes over a lock left by a process that died", async () => {
    const dir = tempDir();
    writeFileSync(
      path.join(dir, "switchyard.lock"),
      JSON.stringify({
        pid: 2 ** 22 + 7,
        hostname: (await import("node:os")).hostname(),
        command: "switchyard serve",
        startedAt: "",
      }),
    );
    const db = await openDatabase({ driver: "pglite", dataDir: dir });
    expect(dataDirHolder(dir)?.pid).toBe(process.pid);
    await db.close();
  });

  it("keeps data across a close and reopen", async () => {
    const dir = tempDir();
    const first = await openDatabase({ driver: "pglite", dataDir: dir });
    await first.migrate();
    await first.prisma.group.create({ data: { name: "kept" } });
    await first.close();
    const second = await openDatabase({ driver: "pglite", dataDir: dir });
    expect((await second.migrate()).applied).toEqual([]);
    expect(await second.prisma.group.count({ where: { name: "kept" } })).toBe(1);
    await second.close();
  });

  it("creates a new data dir outside this process and runs it with a small buffer cache", async () => {
    const dir = tempDir();
    const before = process.memoryUsage().external;
    const db = await openDatabase({ driver: "pglite", dataDir: dir });
    // PostgreSQL's stock 128MB would be touched at start; initdb's wasm memory (about 430 MB) stays out of this process.
    expect(await db.query("SHOW shared_buffers", [])).toEqual([{ shared_buffers: "16MB" }]);
    expect(process.memoryUsage().external - before).toBeLessThan(300 * 1024 * 1024);
    await db.close();
  });
});

describe.each(drivers)("health on %s", (driver) => {
  it("pings while open and reports down after close", async () => {
    const { openTestDatabase } = await import("../src/testing");
    const db = await openTestDatabase(driver);
    expect(await db.ping()).toBe(true);
    await db.close();
    expect(await db.ping(500)).toBe(false);
  });
});

describe.each(drivers)("raw reads and writes outside Prisma (%s)", (driver) => {
  it("query returns rows as the driver parses them; execute returns the affected count", async () => {
    const db = await openTestDatabase(driver);
    try {
      await db.prisma.cluster.create({ data: { name: "raw", launcher: "local" } });
      const since = new Date("2020-01-01T00:00:00Z");
      expect(await db.execute(`UPDATE "clusters" SET "maintenanceSince" = $1 WHERE "name" = $2`, [since, "raw"])).toBe(
        1,
      );
      const rows = await db.query<{ name: string; maintenanceSince: Date }>(
        `SELECT "name", "maintenanceSince" FROM "clusters" WHERE "maintenanceSince" IS NOT NULL`,
        [],
      );
      expect(rows).toEqual([{ name: "raw", maintenanceSince: since }]);
      expect(rows[0]?.maintenanceSince).toBeInstanceOf(Date);
    } finally {
      await db.close();
    }
  });
});
