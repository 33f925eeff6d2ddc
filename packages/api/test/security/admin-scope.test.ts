import { createApiKey } from "@switchyard/auth";
import { testDrivers } from "@switchyard/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError, type Harness, startHarness } from "../harness";

const drivers = await testDrivers();
const HOUR = 3_600_000;

/** The admin role is exercised only with the `admin` scope: an admin's narrower key is a user's key. */
describe.each(drivers)("an admin's narrowly scoped API keys in the control plane on %s", (driver) => {
  let h: Harness;
  let ids: Record<string, string>;
  const end = Math.floor(Date.now() / HOUR) * HOUR;
  const window = { from: new Date(end - 2 * HOUR).toISOString(), to: new Date(end).toISOString() };

  beforeAll(async () => {
    h = await startHarness(driver);
    ids = Object.fromEntries(
      (await h.db.prisma.user.findMany({ select: { id: true, username: true } })).map((u) => [u.username, u.id]),
    );
    const request = (username: string, n: number) => ({
      at: new Date(end - HOUR - n * 1000),
      requestId: `${username}-${n}`,
      userId: ids[username]!,
      model: "org/hot",
      clusterName: "lab",
      route: "/v1/chat/completions",
      status: 200,
      promptTokens: 10,
      completionTokens: 10,
      latencyMs: 5,
    });
    await h.db.prisma.usageRecord.createMany({
      data: [request("ada", 1), request("ada", 2), request("grace", 1), request("root", 1)],
    });
  });
  afterAll(() => h?.close());

  it("an admin's key scoped only `inference` reads only the admin's own usage and requests, not every user's", async () => {
    const inferenceOnly = await h.as(await h.key("root", ["inference"]));
    const series = await inferenceOnly.usage.timeseries({ ...window, bucket: "hour", groupBy: "user" });
    expect(series.totals.requests).toBe(1);
    expect(series.series.map((s) => s.label)).toEqual(["root"]);
    const latency = await inferenceOnly.usage.latency(window);
    expect(latency.overall.count).toBe(1);
    // The per-user table and the request log too, whatever user the key asks for.
    expect((await inferenceOnly.usage.breakdown({ ...window, by: "user" })).rows.map((r) => r.label)).toEqual(["root"]);
    expect((await inferenceOnly.usage.requests(window)).entries.map((e) => e.requestId)).toEqual(["root-1"]);
    expect((await inferenceOnly.usage.requests({ ...window, user: "ada" })).entries).toEqual([]);
    // With the admin scope, the same admin sees everyone's.
    const asAdmin = await h.as(await h.key("root", ["inference", "admin"]));
    expect((await asAdmin.usage.timeseries({ ...window, bucket: "hour", groupBy: "user" })).totals.requests).toBe(4);
    expect((await asAdmin.usage.breakdown({ ...window, by: "user" })).rows).toHaveLength(3);
    expect((await asAdmin.usage.requests({ ...window, user: "ada" })).entries.map((e) => e.requestId)).toEqual([
      "ada-1",
      "ada-2",
    ]);
  });

  it("an admin's key scoped only `keys` cannot list every user's keys or revoke another user's", async () => {
    const adas = await createApiKey(h.db.prisma, { userId: ids.ada!, name: "ada-pipeline" });
    const keysOnly = await h.as(await h.key("root", ["keys"]));
    await expectError(keysOnly.keys.list({ all: true }), "FORBIDDEN", { switchyard: "insufficient_scope" });
    const own = await keysOnly.keys.list({});
    expect(own.map((k) => k.user)).not.toContain("ada");
    await expectError(keysOnly.keys.revoke({ id: adas.view.id }), "NOT_FOUND");
    await expect((await h.as(adas.key)).session.me()).resolves.toMatchObject({ username: "ada" });
    // With the admin scope, the same admin may do both.
    const asAdmin = await h.as(await h.key("root", ["keys", "admin"]));
    expect((await asAdmin.keys.list({ all: true })).map((k) => k.name)).toContain("ada-pipeline");
    expect((await asAdmin.keys.revoke({ id: adas.view.id })).revokedAt).not.toBeNull();
  });
});
