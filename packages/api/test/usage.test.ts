import { testDrivers } from "@switchyard/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError, type Harness, startHarness } from "./harness";

const drivers = await testDrivers();

const HOUR = 3_600_000;
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

/**
 * Usage as the gateway will record it (one usage_records row per request); these tests insert
 * rows directly, at fixed times in the past, so buckets and percentiles are known exactly.
 */
describe.each(drivers)("usage and latency on %s", (driver) => {
  let h: Harness;
  let admin: Awaited<ReturnType<Harness["as"]>>;
  let user: Awaited<ReturnType<Harness["as"]>>;
  // Two whole hours ending at the last full hour, so the window is fixed whatever the time now.
  const end = Math.floor(Date.now() / HOUR) * HOUR;
  const from = new Date(end - 2 * HOUR).toISOString();
  const to = new Date(end).toISOString();

  beforeAll(async () => {
    h = await startHarness(driver);
    admin = await h.as(h.tokens.admin);
    user = await h.as(h.tokens.user);
    const ids = Object.fromEntries(
      (await h.db.prisma.user.findMany({ select: { id: true, username: true } })).map((u) => [u.username, u.id]),
    );
    const rows = [];
    // ada: 100 requests to org/hot in the first hour, latencies 1..100 ms, 10 + 20 tokens each.
    for (let i = 1; i <= 100; i++) {
      rows.push({
        at: new Date(end - 2 * HOUR + i * 1000),
        requestId: `r${i}`,
        userId: ids.ada!,
        model: "org/hot",
        clusterName: "lab",
        route: "/v1/chat/completions",
        status: 200,
        promptTokens: 10,
        completionTokens: 20,
        latencyMs: i,
      });
    }
    // grace: 10 requests to org/dyn in the second hour (one failed), 1000 ms each, 500 tokens each.
    for (let i = 1; i <= 10; i++) {
      rows.push({
        at: new Date(end - HOUR + i * 1000),
        requestId: `g${i}`,
        userId: ids.grace!,
        model: "org/dyn",
        clusterName: "lab",
        route: "/v1/chat/completions",
        status: i === 10 ? 503 : 200,
        promptTokens: 200,
        completionTokens: 300,
        latencyMs: 1000,
      });
    }
    // Outside the window: ignored.
    rows.push({ ...rows[0]!, at: new Date(end + 1000), requestId: "late" });
    await h.db.prisma.usageRecord.createMany({ data: rows });
  });
  afterAll(() => h?.close());

  it("buckets requests and tokens by hour and model, zeros included", async () => {
    const series = await admin.usage.timeseries({ from, to, bucket: "hour", groupBy: "model" });
    expect(series.buckets).toEqual([from, new Date(end - HOUR).toISOString()]);
    expect(series.totals).toEqual({
      requests: 110,
      errors: 1,
      promptTokens: 3000,
      completionTokens: 5000,
      totalTokens: 8000,
    });
    // Ranked by tokens: org/dyn (5000) before org/hot (3000).
    expect(series.series.map((s) => [s.key, s.points.map((p) => p.requests)])).toEqual([
      ["org/dyn", [0, 10]],
      ["org/hot", [100, 0]],
    ]);
    expect(series.series[1]!.points[0]).toMatchObject({
      promptTokens: 1000,
      completionTokens: 2000,
      totalTokens: 3000,
    });
  });

  it("groups by user with usernames, by day, and sums the rest into 'other'", async () => {
    const byUser = await admin.usage.timeseries({ from, to, groupBy: "user" });
    expect(byUser.series.map((s) => [s.label, s.totals.requests])).toEqual([
      ["grace", 10],
      ["ada", 100],
    ]);
    const limited = await admin.usage.timeseries({ from, to, groupBy: "user", limit: 1 });
    expect(limited.series.map((s) => [s.key, s.totals.requests])).toEqual([
      [byUser.series[0]!.key, 10],
      ["other (1)", 100],
    ]);
    const daily = await admin.usage.timeseries({ bucket: "day", groupBy: "none", to });
    expect(daily.buckets.length).toBeGreaterThanOrEqual(30); // 30 days, 31 buckets unless midnight-aligned
    expect(daily.buckets.length).toBeLessThanOrEqual(31);
    expect(daily.series).toHaveLength(1);
    expect(daily.series[0]!.totals.requests).toBe(110);
  });

  it("shows a non-admin their own usage only", async () => {
    const own = await user.usage.timeseries({ from, to, groupBy: "model" });
    expect(own.totals.requests).toBe(100);
    expect(own.series.map((s) => s.key)).toEqual(["org/hot"]);
    const latency = await user.usage.latency({ from, to });
    expect(latency.overall.count).toBe(100);
  });

  it("ranks the top users by tokens (admins only)", async () => {
    const top = await admin.usage.topUsers({ from, to });
    expect(top.map((u) => [u.username, u.requests, u.totalTokens, u.errors])).toEqual([
      ["grace", 10, 5000, 1],
      ["ada", 100, 3000, 0],
    ]);
    expect(top[1]!.lastAt).toBe(new Date(end - 2 * HOUR + 100_000).toISOString());
    await expectError(user.usage.topUsers({ from, to }), "FORBIDDEN", { switchyard: "admin_required" });
  });

  it("computes p50, p95 and p99 latency of successful requests, overall and per model", async () => {
    const latency = await admin.usage.latency({ from, to });
    // 109 successes: 100 at 1..100 ms and 9 at 1000 ms.
    expect(latency.overall.count).toBe(109);
    expect(latency.overall.p50).toBe(55);
    expect(latency.byModel).toEqual([
      { model: "org/hot", count: 100, p50: 50.5, p95: expect.closeTo(95.05, 1), p99: 99 },
      { model: "org/dyn", count: 9, p50: 1000, p95: 1000, p99: 1000 },
    ]);
    const one = await admin.usage.latency({ from, to, model: "org/hot" });
    expect(one.byModel.map((m) => m.model)).toEqual(["org/hot"]);
    const empty = await admin.usage.latency({ from: to, to: new Date(end + HOUR).toISOString(), model: "org/dyn" });
    expect(empty.overall).toEqual({ count: 0, p50: null, p95: null, p99: null });
  });

  it("draws one project's spend over time (its burn-down), for admins and for a member's own share", async () => {
    await admin.projects.create({ name: "climate", tokenBudget: 10_000, users: ["ada", "grace"] });
    const climate = await h.db.prisma.project.findUniqueOrThrow({ where: { name: "climate" } });
    // Charged to climate: ada's last 40 requests (first hour) and grace's first 4 (second hour).
    await h.db.prisma.usageRecord.updateMany({
      where: { requestId: { in: [...range(61, 100).map((i) => `r${i}`), "g1", "g2", "g3", "g4"] } },
      data: { projectId: climate.id },
    });
    const series = await admin.usage.timeseries({ from, to, bucket: "hour", groupBy: "none", project: "climate" });
    expect(series.totals).toMatchObject({ requests: 44, totalTokens: 40 * 30 + 4 * 500 });
    expect(series.series[0]!.points.map((p) => p.totalTokens)).toEqual([1200, 2000]);
    // The same spend the project's summary counts.
    const [summary] = (await admin.projects.list()).filter((p) => p.name === "climate");
    expect(summary!.spent).toBe(series.totals.totalTokens);
    // The install's default project has none of these rows.
    expect((await admin.usage.timeseries({ from, to, project: "default" })).totals.requests).toBe(0);
    // A member sees their own part of it only.
    const own = await user.usage.timeseries({ from, to, groupBy: "none", project: "climate" });
    expect(own.totals.requests).toBe(40);
    await expectError(admin.usage.timeseries({ from, to, project: "nope" }), "NOT_FOUND", {
      switchyard: "resource_not_found",
      message: /project/,
    });
    await expectError(admin.usage.timeseries({ project: "../etc" }), "BAD_REQUEST", { message: /'project'/ });
  });

  it("lists usage per user and per project for the tables, a non-admin's own rows only", async () => {
    // After the burn-down case: climate holds ada's r61..r100 and grace's g1..g4.
    const byUser = await admin.usage.breakdown({ from, to, by: "user" });
    expect(byUser.rows.map((r) => [r.label, r.requests, r.promptTokens, r.completionTokens, r.errors])).toEqual([
      ["grace", 10, 2000, 3000, 1],
      ["ada", 100, 1000, 2000, 0],
    ]);
    const byProject = await admin.usage.breakdown({ from, to, by: "project" });
    expect(byProject.rows.map((r) => [r.label, r.requests, r.totalTokens])).toEqual([
      ["(no project)", 66, 60 * 30 + 6 * 500],
      ["climate", 44, 40 * 30 + 4 * 500],
    ]);
    expect(byProject.rows[0]!.key).toBeNull();
    const own = await user.usage.breakdown({ from, to, by: "user" });
    expect(own.rows.map((r) => [r.label, r.requests])).toEqual([["ada", 100]]);
    const ownProjects = await user.usage.breakdown({ from, to, by: "project" });
    expect(ownProjects.rows.map((r) => [r.label, r.requests])).toEqual([
      ["(no project)", 60],
      ["climate", 40],
    ]);
    await expectError(admin.usage.breakdown({ from, to, limit: 1001 }), "BAD_REQUEST", { message: /'limit'/ });
  });

  it("buckets by the minute and by 15 minutes, and keeps short buckets to short windows", async () => {
    const start = end - 2 * HOUR;
    const minutes = await admin.usage.timeseries({
      from: new Date(start).toISOString(),
      to: new Date(start + 5 * 60_000).toISOString(),
      bucket: "minute",
      groupBy: "none",
    });
    // ada's requests are 1 s apart from the window's start: 59 in its first minute, 41 in the second.
    expect(minutes.series[0]!.points.map((p) => p.requests)).toEqual([59, 41, 0, 0, 0]);
    expect(minutes.buckets[1]).toBe(new Date(start + 60_000).toISOString());
    const quarters = await admin.usage.timeseries({ from, to, bucket: "15min", groupBy: "none" });
    expect(quarters.series[0]!.points.map((p) => p.requests)).toEqual([100, 0, 0, 0, 10, 0, 0, 0]);
    await expectError(
      admin.usage.timeseries({ from: new Date(end - 3 * 24 * HOUR).toISOString(), to, bucket: "minute" }),
      "BAD_REQUEST",
      { message: /minutes spans at most 2 days/ },
    );
  });

  it("pages the request log newest first on (time, id), across equal times, with nothing lost or repeated", async () => {
    const ids = Object.fromEntries(
      (await h.db.prisma.user.findMany({ select: { id: true, username: true } })).map((u) => [u.username, u.id]),
    );
    // 120 requests in the same millisecond, two hours ahead (outside every other case's window):
    // only the id tells them apart, so a page boundary falls between rows of equal time.
    const at = new Date(end + 2 * HOUR);
    await h.db.prisma.usageRecord.createMany({
      data: range(1, 120).map((i) => ({
        at,
        requestId: `tie${i}`,
        userId: ids.ada!,
        model: "org/tie",
        clusterName: "lab",
        route: "/v1/embeddings",
        status: 200,
        latencyMs: 5,
      })),
    });
    const window = { from: new Date(end + HOUR).toISOString(), to: new Date(end + 3 * HOUR).toISOString() };
    const seen: string[] = [];
    const sizes: number[] = [];
    let cursor: string | undefined;
    do {
      const page = await admin.usage.requests({ ...window, ...(cursor ? { cursor } : {}) });
      sizes.push(page.entries.length);
      seen.push(...page.entries.map((e) => e.requestId));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(sizes).toEqual([50, 50, 20]);
    expect(new Set(seen).size).toBe(120);
    expect(seen.slice(0, 2)).toEqual(["tie120", "tie119"]); // inserted in order: the later id first

    // The two-hour window of the other cases: grace's requests (newer) come first, then ada's.
    const first = await admin.usage.requests({ from, to });
    expect(first.entries).toHaveLength(50);
    expect(first.entries[0]).toMatchObject({
      requestId: "g10",
      username: "grace",
      model: "org/dyn",
      status: 503,
      latencyMs: 1000,
      ttftMs: null,
      stream: false,
      project: null,
    });
    expect(first.entries[49]!.requestId).toBe("r61");
    expect(first.entries[49]!.project).toBe("climate");
    const second = await admin.usage.requests({ from, to, cursor: first.nextCursor! });
    expect(second.entries.map((e) => e.requestId).slice(0, 2)).toEqual(["r60", "r59"]);
    const small = await admin.usage.requests({ from, to, limit: 10 });
    expect(small.entries.map((e) => e.requestId)).toEqual(range(1, 10).map((i) => `g${11 - i}`));
    expect(small.nextCursor).not.toBeNull();
  });

  it("filters the request log by status class, model and user; a non-admin sees their own rows only", async () => {
    const ids = (page: { entries: { requestId: string }[] }) => page.entries.map((e) => e.requestId);
    expect(ids(await admin.usage.requests({ from, to, status: "5xx" }))).toEqual(["g10"]);
    expect((await admin.usage.requests({ from, to, status: "4xx" })).entries).toEqual([]);
    expect((await admin.usage.requests({ from, to, status: "2xx", limit: 200 })).entries).toHaveLength(109);
    const grace = await admin.usage.requests({ from, to, user: "grace" });
    expect(grace.entries).toHaveLength(10);
    expect(grace.nextCursor).toBeNull();
    expect((await admin.usage.requests({ from, to, model: "org/dyn", status: "2xx" })).entries).toHaveLength(9);
    expect((await admin.usage.requests({ from, to, user: "nobody" })).entries).toEqual([]);
    // ada sees her 100 requests and nothing of grace's, even when she asks for them.
    const own = await user.usage.requests({ from, to, limit: 200 });
    expect(own.entries).toHaveLength(100);
    expect(new Set(own.entries.map((e) => e.username))).toEqual(new Set(["ada"]));
    expect((await user.usage.requests({ from, to, user: "grace" })).entries).toEqual([]);
  });

  it("refuses request-log pages that are too large, cursors that are not cursors, and unknown status classes", async () => {
    await expectError(admin.usage.requests({ limit: 0 }), "BAD_REQUEST", { message: /'limit'/ });
    await expectError(admin.usage.requests({ limit: 201 }), "BAD_REQUEST", { message: /'limit'/ });
    await expectError(admin.usage.requests({ cursor: "1 OR 1=1" }), "BAD_REQUEST", { message: /'cursor'/ });
    await expectError(admin.usage.requests({ cursor: `1_${"9".repeat(19)}` }), "BAD_REQUEST", {
      switchyard: "invalid_field",
      message: /'cursor'/,
    });
    await expectError(admin.usage.requests({ status: "3xx" as never }), "BAD_REQUEST", { message: /'status'/ });
    await expectError(admin.usage.requests({ from: to, to: from }), "BAD_REQUEST", {
      message: /'from': must be before 'to'/,
    });
  });

  it("refuses windows that are backwards, too long for the bucket, or not timestamps", async () => {
    await expectError(admin.usage.timeseries({ from: to, to: from }), "BAD_REQUEST", {
      switchyard: "invalid_field",
      message: /Invalid value for 'from': must be before 'to'/,
    });
    await expectError(
      admin.usage.timeseries({ from: new Date(end - 60 * 24 * HOUR).toISOString(), to, bucket: "hour" }),
      "BAD_REQUEST",
      { message: /spans at most 31 days; use bucket 'day'/ },
    );
    await expectError(admin.usage.timeseries({ from: "yesterday" }), "BAD_REQUEST", { message: /'from'/ });
    await expectError(admin.usage.timeseries({ groupBy: "cluster" as never }), "BAD_REQUEST", { message: /'groupBy'/ });
  });
});
