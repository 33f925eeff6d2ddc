import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { loadMigrations, type Migration, MigrationError, migrate, openDatabase } from "../src";
import { createPostgresDatabase, openTestDatabase, testDrivers } from "../src/testing";

const drivers = await testDrivers();
const packageDir = fileURLToPath(new URL("..", import.meta.url));

/** Prisma's own `migrate status`, through the offline CLI wrapper. */
function prismaMigrateStatus(env: Record<string, string>): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["scripts/prisma.mjs", "migrate", "status"], {
      cwd: packageDir,
      env: { ...process.env, ...env },
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("close", (code) => resolve({ code: code ?? 1, output }));
  });
}

/**
 * The `@@index` and `@@unique` lists of schema.prisma as `index|unique table("col",...)`; the
 * schema maps tables with `@@map` and never renames a column, so field names are column names.
 * A raw operator class, `field(ops: raw("x_ops"))`, reads `"field" x_ops` as in pg_indexes.
 */
function declaredIndexes(schema: string): string[] {
  const keys: string[] = [];
  for (const [, model = "", body = ""] of schema.matchAll(/^model (\w+) \{\n([\s\S]*?)^\}/gm)) {
    const table = /@@map\("([^"]+)"\)/.exec(body)?.[1] ?? model;
    for (const [, kind, fields = ""] of body.matchAll(/@@(index|unique)\(\[([^\]]+)\]/g)) {
      const columns = fields.split(",").map((f) => {
        const field = f.trim();
        const raw = /^(\w+)\(ops: raw\("(\w+)"\)\)$/.exec(field);
        return raw ? `"${raw[1]}" ${raw[2]}` : `"${field}"`;
      });
      keys.push(`${kind} ${table}(${columns.join(",")})`);
    }
  }
  return keys;
}

/** A non-partial b-tree index from pg_indexes in the same form; undefined for anything else. */
function indexKey(indexdef: string): string | undefined {
  const match = /^CREATE (UNIQUE )?INDEX \S+ ON public\.(\S+) USING btree \(([^)]+)\)$/.exec(indexdef);
  if (!match) return undefined;
  const [, unique, table = "", columns = ""] = match;
  const quoted = columns.split(", ").map((c) => {
    const withOps = /^("[^"]+"|\S+) (\w+)$/.exec(c);
    const column = `"${(withOps?.[1] ?? c).replace(/^"|"$/g, "")}"`;
    return withOps ? `${column} ${withOps[2]}` : column;
  });
  return `${unique ? "unique" : "index"} ${table.replace(/^"|"$/g, "")}(${quoted.join(",")})`;
}

describe.each(drivers)("migrations on %s", (driver) => {
  it("apply to a fresh database once, then have nothing to do", async () => {
    const db = await openTestDatabase(driver, { migrate: false });
    try {
      const all = await loadMigrations();
      expect(all.length).toBeGreaterThan(0);
      const first = await db.migrate();
      expect(first.applied).toEqual(all.map((m) => m.name));
      const second = await db.migrate();
      expect(second).toEqual({ applied: [], alreadyApplied: all.length, modified: [] });
      const rows = await db.prisma.$queryRaw<
        { migration_name: string; applied_steps_count: number; finished_at: Date | null }[]
      >`
        SELECT migration_name, applied_steps_count, finished_at FROM "_prisma_migrations"`;
      expect(rows).toHaveLength(all.length);
      expect(rows.every((r) => r.applied_steps_count === 1 && r.finished_at !== null)).toBe(true);
    } finally {
      await db.close();
    }
  });

  it("round-trips the platform's state through Prisma", async () => {
    const db = await openTestDatabase(driver);
    const { prisma } = db;
    try {
      const user = await prisma.user.create({ data: { username: "ada", role: "admin", passwordHash: "scrypt$x" } });
      const group = await prisma.group.create({ data: { name: "auroragpt" } });
      await prisma.groupMember.create({ data: { userId: user.id, groupId: group.id } });
      await prisma.apiKey.create({
        data: { id: "key_1", userId: user.id, prefix: "sy_AbCd", hash: "ab".repeat(32), scopes: ["inference"] },
      });
      await prisma.cluster.create({ data: { name: "sophia", launcher: "local" } });
      const node = await prisma.node.create({ data: { clusterName: "sophia", name: "gpu-01", gpus: 8, role: "hot" } });
      const model = await prisma.model.create({
        data: {
          clusterName: "sophia",
          name: "org/m",
          framework: "vllm",
          placement: "hot",
          capabilities: ["chat", "batch"],
          gpus: 1,
        },
      });
      await prisma.deployment.create({
        data: {
          id: "dep_1",
          modelId: model.id,
          clusterName: "sophia",
          nodeId: node.id,
          state: "live",
          launcher: "local",
          gpus: 1,
          transitions: {
            create: [
              { fromState: "offline", toState: "starting", cause: "boot" },
              { fromState: "starting", toState: "live", cause: "ready" },
            ],
          },
        },
      });
      await prisma.usageRecord.create({
        data: {
          at: new Date(),
          requestId: "r1",
          userId: user.id,
          model: "org/m",
          clusterName: "sophia",
          route: "/v1/chat/completions",
          status: 200,
          promptTokens: 10,
          completionTokens: 5,
          latencyMs: 12,
        },
      });
      await prisma.file.create({
        data: {
          id: "file-1",
          userId: user.id,
          purpose: "batch",
          filename: "in.jsonl",
          bytes: 5_000_000_000n,
          path: "/data/files/file-1",
        },
      });
      await prisma.batch.create({
        data: {
          id: "batch_1",
          userId: user.id,
          api: "openai",
          clusterName: "sophia",
          framework: "vllm",
          model: "org/m",
          endpoint: "/v1/chat/completions",
          inputPath: "/data/in.jsonl",
          metadata: { project: "x" },
        },
      });

      const read = await prisma.user.findUniqueOrThrow({
        where: { username: "ada" },
        include: { groups: { include: { group: true } }, apiKeys: true, files: true, batches: true },
      });
      expect(read.role).toBe("admin");
      expect(read.groups.map((g) => g.group.name)).toEqual(["auroragpt"]);
      expect(read.apiKeys[0]?.scopes).toEqual(["inference"]);
      expect(read.files[0]?.bytes).toBe(5_000_000_000n);
      expect(read.batches[0]).toMatchObject({ status: "validating", metadata: { project: "x" }, cursorLine: 0 });
      const dep = await prisma.deployment.findUniqueOrThrow({
        where: { id: "dep_1" },
        include: { transitions: { orderBy: { id: "asc" } }, node: true, model: true },
      });
      expect(dep.transitions.map((t) => t.toState)).toEqual(["starting", "live"]);
      expect(dep.node?.name).toBe("gpu-01");
      expect(dep.model.capabilities).toEqual(["chat", "batch"]);
      expect(await prisma.usageRecord.aggregate({ _sum: { promptTokens: true } })).toEqual({
        _sum: { promptTokens: 10 },
      });
      await expect(prisma.user.create({ data: { username: "ada" } })).rejects.toThrow(
        /Unique constraint|duplicate key/,
      );
    } finally {
      await db.close();
    }
  });

  it("starts with one open, unlimited `default` project; a project member is a user or a group, never both", async () => {
    const db = await openTestDatabase(driver);
    const { prisma } = db;
    try {
      const projects = await prisma.project.findMany();
      expect(projects).toEqual([
        expect.objectContaining({ name: "default", open: true, active: true, tokenBudget: null, validUntil: null }),
      ]);
      const user = await prisma.user.create({ data: { username: "ada" } });
      const group = await prisma.group.create({ data: { name: "physics" } });
      const projectId = projects[0]!.id;
      await expect(
        prisma.projectMember.create({ data: { projectId, userId: user.id, groupId: group.id } }),
      ).rejects.toThrow(/project_members_user_or_group|check constraint/i);
      await expect(prisma.projectMember.create({ data: { projectId } })).rejects.toThrow(
        /project_members_user_or_group|check constraint/i,
      );
      await prisma.projectMember.create({ data: { projectId, groupId: group.id } });
      await prisma.usageRecord.create({
        data: {
          at: new Date(),
          requestId: "r1",
          model: "org/m",
          clusterName: "lab",
          route: "/v1/batches",
          status: 200,
          promptTokens: 3,
          latencyMs: 1,
          projectId,
        },
      });
      expect(await prisma.usageRecord.count({ where: { projectId } })).toBe(1);
    } finally {
      await db.close();
    }
  });

  it("creates every index schema.prisma declares", async () => {
    const db = await openTestDatabase(driver);
    try {
      const rows = await db.prisma.$queryRaw<{ indexdef: string }[]>`
        SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'`;
      const actual = new Set(rows.map((r) => indexKey(r.indexdef)).filter((k) => k !== undefined));
      const declared = declaredIndexes(readFileSync(path.join(packageDir, "prisma", "schema.prisma"), "utf8"));
      expect(declared).toContain('index audit_log("action","targetType","targetId")');
      expect(declared).toContain('index audit_log("action" text_pattern_ops,"id")');
      expect(declared).toContain('index audit_log("actorUsername","id")');
      expect(declared.filter((k) => !actual.has(k))).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it("rolls back a failing migration as a whole and records it", async () => {
    const db = await openTestDatabase(driver, { migrate: false });
    const ok: Migration = { name: "20260101000000_ok", sql: 'CREATE TABLE "t_ok" (id int);', checksum: "a".repeat(64) };
    const bad: Migration = {
      name: "20260101000001_bad",
      sql: 'CREATE TABLE "t_half" (id int);\nSELECT * FROM "no_such_table";',
      checksum: "b".repeat(64),
    };
    try {
      await db.withSession(async (sql) => {
        await expect(migrate(sql, [ok, bad])).rejects.toThrow(MigrationError);
        // Still failing on a second run, and the first migration is not applied twice.
        await expect(migrate(sql, [ok, bad])).rejects.toThrow(/20260101000001_bad failed and was rolled back/);
        const tables = await sql.query<{ name: string }>(
          "SELECT table_name AS name FROM information_schema.tables WHERE table_name IN ('t_ok', 't_half')",
        );
        expect(tables.map((t) => t.name)).toEqual(["t_ok"]);
        const rows = await sql.query<{ migration_name: string; rolled_back_at: Date | null; finished_at: Date | null }>(
          `SELECT migration_name, rolled_back_at, finished_at FROM "_prisma_migrations" ORDER BY started_at`,
        );
        expect(rows.filter((r) => r.migration_name === ok.name && r.finished_at !== null)).toHaveLength(1);
        const badRows = rows.filter((r) => r.migration_name === bad.name);
        expect(badRows).toHaveLength(2);
        expect(badRows.every((r) => r.rolled_back_at !== null && r.finished_at === null)).toBe(true);
      });
    } finally {
      await db.close();
    }
  });

  it("refuses a database migrated by a newer version", async () => {
    const db = await openTestDatabase(driver);
    try {
      // A binary that knows fewer migrations than the database has must not run against it.
      await db.withSession(async (sql) => {
        await expect(migrate(sql, [])).rejects.toThrow(/newer Switchyard/);
      });
    } finally {
      await db.close();
    }
  });
});

describe.runIf(drivers.includes("postgres"))("PostgreSQL specifics", () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const fn of cleanup) await fn();
  });

  it("lets two processes migrate at once without applying anything twice", async () => {
    const created = await createPostgresDatabase();
    cleanup.push(created.drop);
    const [a, b] = await Promise.all([
      openDatabase({ driver: "postgres", url: created.url }),
      openDatabase({ driver: "postgres", url: created.url }),
    ]);
    const [ra, rb] = await Promise.all([a.migrate(), b.migrate()]);
    const all = await loadMigrations();
    expect(ra.applied.length + rb.applied.length).toBe(all.length);
    const rows = await a.prisma.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM "_prisma_migrations"`;
    expect(Number(rows[0]?.n)).toBe(all.length);
    await a.close();
    await b.close();
  });

  it("passes Prisma's own `migrate status` after our migrator, and fails it before", async () => {
    const migrated = await createPostgresDatabase();
    const empty = await createPostgresDatabase();
    cleanup.push(migrated.drop, empty.drop);
    const db = await openDatabase({ driver: "postgres", url: migrated.url });
    await db.migrate();
    await db.close();
    const [after, before] = await Promise.all([
      prismaMigrateStatus({ SWITCHYARD_PRISMA_URL: migrated.url }),
      prismaMigrateStatus({ SWITCHYARD_PRISMA_URL: empty.url }),
    ]);
    expect(after.output).toMatch(/Database schema is up to date/);
    expect(after.code).toBe(0);
    expect(before.code).not.toBe(0);
    expect(before.output).toMatch(/not yet been applied/);
  });
});

describe("PGlite data dir and Prisma's `migrate status`", () => {
  it("accepts the result of our migrator", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "sy-pglite-status-"));
    try {
      const db = await openDatabase({ driver: "pglite", dataDir: dir });
      await db.migrate();
      await db.close();
      const result = await prismaMigrateStatus({ SWITCHYARD_PGLITE_DIR: path.join(dir, "pgdata") });
      expect(result.output).toMatch(/Database schema is up to date/);
      expect(result.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
