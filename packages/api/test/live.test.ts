import { testDrivers } from "@switchyard/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError, type Harness, startHarness } from "./harness";

const drivers = await testDrivers();

/**
 * The Overview's headline figures (`usage.live`) from usage rows and batch rows put in place
 * relative to now: the last 10 minutes count, older rows do not.
 */
describe.each(drivers)("the overview's live figures on %s", (driver) => {
  let h: Harness;
  let admin: Awaited<ReturnType<Harness["as"]>>;
  let ada: Awaited<ReturnType<Harness["as"]>>;

  beforeAll(async () => {
    h = await startHarness(driver);
    admin = await h.as(h.tokens.admin);
    ada = await h.as(h.tokens.user);
    const ids = Object.fromEntries(
      (await h.db.prisma.user.findMany({ select: { id: true, username: true } })).map((u) => [u.username, u.id]),
    );
    const now = Date.now();
    const row = (
      i: number,
      fields: {
        userId: string | undefined;
        status: number;
        stream?: boolean;
        ttftMs?: number;
        promptTokens?: number;
        completionTokens?: number;
      },
    ) => ({
      at: new Date(now - 20_000 - i * 5000),
      requestId: `r${i}`,
      model: "org/hot",
      clusterName: "lab",
      route: "/v1/chat/completions",
      latencyMs: 100,
      ...fields,
    });
    const rows = [];
    // ada: 60 streamed successes, time to first token 1..60 ms, 10 generated tokens each.
    for (let i = 1; i <= 60; i++) {
      rows.push(
        row(i, { userId: ids.ada, status: 200, stream: true, ttftMs: i, promptTokens: 5, completionTokens: 10 }),
      );
    }
    // grace: 40 failures (no first token, no tokens).
    for (let i = 61; i <= 100; i++) rows.push(row(i, { userId: ids.grace, status: 503 }));
    // Older than the window: ignored, however slow.
    rows.push({
      ...row(0, { userId: ids.ada, status: 200, stream: true, ttftMs: 90_000, completionTokens: 1_000_000 }),
      at: new Date(now - 11 * 60_000),
      requestId: "old",
    });
    await h.db.prisma.usageRecord.createMany({ data: rows });

    let seq = 0;
    const batch = async (username: string, status: "in_progress" | "completed", total: number, done: number) =>
      h.db.prisma.batch.create({
        data: {
          id: `batch_live${++seq}`,
          userId: ids[username]!,
          api: "openai",
          clusterName: "lab",
          framework: "vllm",
          model: "org/hot",
          endpoint: "/v1/chat/completions",
          status,
          inputPath: `/tmp/live-${seq}.jsonl`,
          totalCount: total,
          completedCount: done,
          failedCount: status === "in_progress" ? 5 : 0,
        },
      });
    await batch("root", "in_progress", 100, 30); // 65 lines waiting
    await batch("ada", "in_progress", 20, 5); // 10 waiting
    await batch("ada", "completed", 50, 50); // done: nothing waiting
  });
  afterAll(() => h?.close());

  it("gives an admin requests/s, error rate, TTFT p50/p99, tokens/s and the batch backlog of everyone", async () => {
    const live = await admin.usage.live();
    expect(live).toMatchObject({
      windowSeconds: 600,
      requests: 100,
      errors: 40,
      requestsPerSecond: 0.167,
      errorRate: 0.4,
      ttftP50Ms: 30.5,
      ttftP99Ms: 59.4,
      tokensPerSecond: 1,
      backlog: { batches: 2, lines: 75 },
    });
    expect(Date.parse(live.to) - Date.parse(live.from)).toBe(600_000);
    // A point a minute for the sparklines, together holding every request of the window.
    expect(live.series.length).toBeGreaterThanOrEqual(10);
    expect(live.series.reduce((sum, p) => sum + p.requests, 0)).toBe(100);
    expect(live.series.reduce((sum, p) => sum + p.errors, 0)).toBe(40);
    expect(live.series.reduce((sum, p) => sum + p.tokens, 0)).toBe(600);
  });

  it("shows a user their own traffic and batches only", async () => {
    expect(await ada.usage.live({ minutes: 10 })).toMatchObject({
      requests: 60,
      errors: 0,
      errorRate: 0,
      backlog: { batches: 1, lines: 10 },
    });
  });

  it("answers null rather than zero when there is nothing to measure, and refuses bad windows", async () => {
    const grace = await h.as(h.tokens.member);
    const quiet = await grace.usage.live({ minutes: 10 });
    expect(quiet).toMatchObject({ requests: 40, errorRate: 1, ttftP50Ms: null, ttftP99Ms: null, tokensPerSecond: 0 });
    const longer = await admin.usage.live({ minutes: 15 });
    expect(longer.requests).toBe(101); // the 11-minute-old request too
    await expectError(admin.usage.live({ minutes: 0 }), "BAD_REQUEST", { message: /'minutes'/ });
    await expectError(admin.usage.live({ minutes: 61 }), "BAD_REQUEST", { message: /'minutes'/ });
  });
});
