import { syncCatalog } from "@switchyard/db";
import { openTestDatabase, type TestDatabase, testDrivers } from "@switchyard/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportTrace } from "../src/replay";
import { testConfig } from "./harness";

const T0 = Date.UTC(2026, 0, 5, 9);
const MIN = 60_000;

/**
 * `switchyard trace export` reads real usage rows and transitions: a model that went live at
 * 9:10 after a request at 9:00 (which waited 10 minutes), later requests that found it live, a
 * batch line, and a request from before the window.
 */
for (const driver of await testDrivers()) {
  describe(`exportTrace (${driver})`, () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await openTestDatabase(driver);
      const config = testConfig("local", "/nonexistent");
      await syncCatalog(db.prisma, config);
      const model = await db.prisma.model.findFirstOrThrow({ where: { name: "org/dyn-a" } });
      const deployment = await db.prisma.deployment.create({
        data: {
          id: "dep_export",
          modelId: model.id,
          clusterName: model.clusterName,
          launcher: "local",
          gpus: 1,
          state: "offline",
        },
      });
      const transitions: [string, string, number][] = [
        ["offline", "queued", T0],
        ["queued", "starting", T0 + 1000],
        ["starting", "live", T0 + 10 * MIN],
        ["live", "draining", T0 + 60 * MIN],
        ["draining", "offline", T0 + 61 * MIN],
      ];
      for (const [fromState, toState, at] of transitions) {
        await db.prisma.deploymentTransition.create({
          data: {
            deploymentId: deployment.id,
            fromState: fromState as never,
            toState: toState as never,
            cause: "test",
            at: new Date(at),
          },
        });
      }
      const row = (at: number, latencyMs: number, over: Record<string, unknown> = {}) => ({
        at: new Date(at),
        requestId: `req-${at}`,
        userId: "00000000-0000-4000-8000-000000000001",
        model: "org/dyn-a",
        clusterName: model.clusterName,
        route: "/v1/chat/completions",
        status: 200,
        promptTokens: 100,
        completionTokens: 20,
        latencyMs,
        ...over,
      });
      await db.prisma.usageRecord.createMany({
        data: [
          row(T0 - 2 * 86_400_000, 500), // before the window
          row(T0 + 10 * MIN + 2000, 10 * MIN + 2000), // arrived 9:00, answered 2 s after going live
          row(T0 + 20 * MIN, 1500),
          row(T0 + 30 * MIN, 800, { route: "/v1/batches", userId: null, apiKeyId: "key_1" }),
          row(T0 + 90 * MIN, 700), // after it stopped: nothing live, so it waited (at most its latency)
        ],
      });
    });
    afterAll(async () => db?.close());

    it("gives each request's arrival, user, kind, tokens and wait, with no content", async () => {
      const trace = await exportTrace(db, new Date(T0 - 86_400_000), new Date(T0 + 86_400_000));
      expect(trace).toHaveLength(4);
      expect(trace[0]).toEqual({
        at: new Date(T0).toISOString(),
        model: "org/dyn-a",
        cluster: expect.any(String),
        user: "00000000-0000-4000-8000-000000000001",
        kind: "interactive",
        promptTokens: 100,
        completionTokens: 20,
        durationMs: 2000,
        waited: true,
        waitMs: 10 * MIN,
      });
      expect(trace[1]).toMatchObject({ waited: false, waitMs: 0, durationMs: 1500 });
      expect(trace[2]).toMatchObject({ kind: "batch", user: "key_1", waited: false });
      // Nothing was live at 10:29:59 and nothing went live later: it waited at most its latency.
      expect(trace[3]).toMatchObject({ waited: true, waitMs: 700, durationMs: 0 });
      expect(Object.keys(trace[0] ?? {})).not.toContain("messages");
    });

    it("keeps to the window", async () => {
      const trace = await exportTrace(db, new Date(T0 + 15 * MIN), new Date(T0 + 25 * MIN));
      expect(trace.map((r) => r.at)).toEqual([new Date(T0 + 20 * MIN - 1500).toISOString()]);
    });
  });
}
