import { Writable } from "node:stream";
import { openTestDatabase, type TestDatabase, testDrivers } from "@switchyard/db/testing";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type UsageRecord, UsageRecorder } from "../../src";

const drivers = await testDrivers();

/** A logger whose lines the test reads. */
function capturedLogger(): { logger: pino.Logger; messages: () => string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return {
    logger: pino({ level: "info" }, sink),
    messages: () => lines.map((line) => (JSON.parse(line) as { msg: string }).msg),
  };
}

let sequence = 0;
function entry(overrides: Partial<UsageRecord> = {}): UsageRecord {
  sequence += 1;
  return {
    at: new Date(Date.UTC(2026, 0, 1, 12, 0, sequence)),
    requestId: `req-${sequence}`,
    userId: "7f9c2ba4-e88f-4a1c-a2c5-6f0d2d3c9e11",
    apiKeyId: "key-1",
    model: "org/chat",
    cluster: "lab",
    route: "chat/completions",
    status: 200,
    promptTokens: 12,
    completionTokens: 34,
    latencyMs: 56,
    ttftMs: 7,
    stream: true,
    ...overrides,
  };
}

async function droppedCount(registry: Registry): Promise<number> {
  const metric = await registry.getSingleMetric("switchyard_usage_records_dropped_total")?.get();
  return metric?.values[0]?.value ?? Number.NaN;
}

describe.each(drivers)("UsageRecorder on %s", (driver) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await openTestDatabase(driver);
  });
  afterAll(async () => {
    await db?.close();
  });
  beforeEach(async () => {
    await db.execute(`DELETE FROM "usage_records"`, []);
  });

  const rows = () =>
    db.prisma.usageRecord.findMany({
      orderBy: { id: "asc" },
      select: {
        at: true,
        requestId: true,
        userId: true,
        apiKeyId: true,
        model: true,
        clusterName: true,
        route: true,
        status: true,
        promptTokens: true,
        completionTokens: true,
        latencyMs: true,
        ttftMs: true,
        stream: true,
      },
    });

  it("writes nothing until flushed, then every record with every field, in batches of batchSize", async () => {
    const recorder = new UsageRecorder(db, capturedLogger().logger, { batchSize: 2 });
    const first = entry();
    const batchLine = entry({ apiKeyId: null, ttftMs: null, stream: false, route: "/v1/batches", status: 502 });
    const third = entry({ userId: null });
    for (const e of [first, batchLine, third]) recorder.record(e);
    expect(await rows()).toEqual([]);
    await recorder.flush();
    const written = await rows();
    expect(written.map((r) => r.requestId)).toEqual([first.requestId, batchLine.requestId, third.requestId]);
    expect(written[1]).toEqual({
      at: batchLine.at,
      requestId: batchLine.requestId,
      userId: batchLine.userId,
      apiKeyId: null,
      model: "org/chat",
      clusterName: "lab",
      route: "/v1/batches",
      status: 502,
      promptTokens: 12,
      completionTokens: 34,
      latencyMs: 56,
      ttftMs: null,
      stream: false,
    });
    expect(written[0]).toMatchObject({ apiKeyId: "key-1", ttftMs: 7, stream: true });
    expect(written[2]?.userId).toBeNull();
    await recorder.flush();
    expect(await rows()).toHaveLength(3); // nothing is written twice
  });

  it("calls made while a flush runs share it", async () => {
    const recorder = new UsageRecorder(db, capturedLogger().logger);
    recorder.record(entry());
    const one = recorder.flush();
    expect(recorder.flush()).toBe(one);
    await one;
    expect(await rows()).toHaveLength(1);
  });

  it("drops what does not fit in the buffer, counts it and warns", async () => {
    const registry = new Registry();
    const { logger, messages } = capturedLogger();
    const recorder = new UsageRecorder(db, logger, { registry, maxBuffered: 2 });
    for (let i = 0; i < 5; i++) recorder.record(entry());
    expect(await droppedCount(registry)).toBe(3);
    expect(messages()).toContain("usage buffer full: the database is not keeping up");
    await recorder.flush();
    expect(await rows()).toHaveLength(2);
  });

  it("keeps the records when the database refuses them and writes them at the next flush", async () => {
    const { logger, messages } = capturedLogger();
    const recorder = new UsageRecorder(db, logger);
    recorder.record(entry());
    recorder.record(entry());
    await db.execute(`ALTER TABLE "usage_records" RENAME TO "usage_records_away"`, []);
    try {
      await recorder.flush();
    } finally {
      await db.execute(`ALTER TABLE "usage_records_away" RENAME TO "usage_records"`, []);
    }
    expect(messages()).toContain("could not write usage records; will retry");
    expect(await rows()).toEqual([]);
    await recorder.flush();
    expect(await rows()).toHaveLength(2);
  });

  it("writes on its timer once started, and stop() writes what is left", async () => {
    const recorder = new UsageRecorder(db, capturedLogger().logger, { intervalMs: 20 });
    recorder.start();
    recorder.record(entry());
    const deadline = Date.now() + 5000;
    while ((await rows()).length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(await rows()).toHaveLength(1);
    await recorder.stop();
    recorder.record(entry());
    await new Promise((r) => setTimeout(r, 60)); // the timer is gone: nothing more is written by itself
    expect(await rows()).toHaveLength(1);
    await recorder.stop();
    expect(await rows()).toHaveLength(2);
  });
});
