import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openTestDatabase, type TestDatabase, testDrivers } from "../src/testing";

const drivers = await testDrivers();

/**
 * The audit page's two filters (packages/api/src/audit.ts, `listAudit`) are served by their own
 * indexes on PostgreSQL, whose collation (C.UTF-8 on the test server, often a language locale
 * in production) keeps a plain b-tree on `action` from serving a prefix LIKE.
 */
describe.runIf(drivers.includes("postgres"))("audit_log filter indexes on PostgreSQL", () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await openTestDatabase("postgres");
    // Enough rows, over many actions and actors, that a filtered scan of the primary key in id
    // order is not the cheapest way to find fifty matches.
    await db.withSession((sql) =>
      sql.query(`
        INSERT INTO "audit_log" ("actorUsername", "via", "action", "targetType", "targetId")
        SELECT 'user' || (i % 200), 'api_key', (ARRAY['deployments', 'models', 'users', 'groups', 'clusters',
          'batches', 'projects', 'files', 'nodes', 'usage'])[1 + i % 10] || '.x' || (i % 7), 'model', i::text
        FROM generate_series(1, 20000) AS i;
        INSERT INTO "audit_log" ("actorUsername", "via", "action", "targetType", "targetId")
        SELECT 'x', 'cli', 'keys.create', 'api_key', i::text FROM generate_series(1, 60) AS i;
        ANALYZE "audit_log";`),
    );
  });
  afterAll(async () => {
    await db?.close();
  });

  /** The plan of `query` with sequential scans priced out, as one string. */
  function plan(query: string): Promise<string> {
    return db.withSession(async (sql) => {
      await sql.query("SET enable_seqscan = off");
      try {
        const rows = await sql.query<{ "QUERY PLAN": string }>(`EXPLAIN ${query}`);
        return rows.map((r) => r["QUERY PLAN"]).join("\n");
      } finally {
        await sql.query("RESET enable_seqscan");
      }
    });
  }

  it("finds an action prefix through (action text_pattern_ops, id)", async () => {
    const text = await plan(`SELECT * FROM "audit_log" WHERE "action" LIKE 'keys.%' ORDER BY "id" DESC LIMIT 50`);
    expect(text).toContain("audit_log_action_id_idx");
    expect(text).toMatch(/Index Cond: .*action.*~>=~/);
  });

  it("finds an actor's entries newest first through (actorUsername, id)", async () => {
    const text = await plan(`SELECT * FROM "audit_log" WHERE "actorUsername" = 'x' ORDER BY "id" DESC LIMIT 50`);
    expect(text).toContain("audit_log_actorUsername_id_idx");
    // The index already yields the id order, so no sort.
    expect(text).not.toMatch(/\bSort\b/);
  });
});
