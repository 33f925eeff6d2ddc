import { afterAll, afterEach, describe, expect, it } from "vitest";
import { adopt, Leadership } from "../../src/leadership";
import { policyContext } from "../../src/resources";
import { availability } from "../../src/routing/availability";
import { bringLive, closeSharedDatabase, deploymentOf, historyOf, type UnitWorld, unitWorld } from "./fakes";

describe("leadership: what a new leader adopts and what a leaving one stops", () => {
  afterAll(closeSharedDatabase);
  let w: UnitWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it("adopts running jobs of a launcher whose servers survive a restart, and cancels orphans", async () => {
    w = await unitWorld({ capabilities: { serversSurviveRestart: true, launchReaches: "running" } });
    const live = await bringLive(w, "org/dyn-a");
    w.launcher.jobs.set("dep_orphan", { deploymentId: "dep_orphan", jobId: "999", phase: "running" });
    await adopt(w.res);
    expect(deploymentOf(w, "org/dyn-a")).toMatchObject({ id: live.id, state: "live" });
    expect(w.launcher.stopped).toEqual(["dep_orphan"]);
  });

  it("closes what a launcher whose servers die with the process left behind, and a job that ended meanwhile", async () => {
    w = await unitWorld(); // servers do not survive a restart
    const a = await bringLive(w, "org/dyn-a");
    w.launcher.jobs.clear(); // a new process: its launcher started none of them
    await adopt(w.res);
    expect(availability(w.res, "lab", "org/dyn-a")).toMatchObject({ status: "offline", deploymentId: null });
    expect((await historyOf(w, a.id)).at(-1)).toBe(
      "live->offline: switchyard restarted; its local servers stopped with it",
    );
    await w.close();

    w = await unitWorld({ capabilities: { serversSurviveRestart: true, launchReaches: "running" } });
    const b = await bringLive(w, "org/dyn-b");
    w.launcher.jobs.delete(b.id); // the job is gone from the queue
    await adopt(w.res);
    expect((await historyOf(w, b.id)).at(-1)).toBe("live->offline: the job ended while the scheduler was down");
  });

  it("keeps the servers it started when it leads again in the same process (its lock went with a database connection)", async () => {
    w = await unitWorld(); // servers do not survive a restart, but this process's are still running
    const a = await bringLive(w, "org/dyn-a");
    await adopt(w.res);
    expect(availability(w.res, "lab", "org/dyn-a")).toMatchObject({ status: "live", deploymentId: a.id });
    expect(w.launcher.stopped).toEqual([]);
  });

  it("at shutdown stops servers that would not survive and leaves surviving ones running", async () => {
    for (const serversSurviveRestart of [false, true]) {
      w = await unitWorld({ capabilities: { serversSurviveRestart, launchReaches: "running" } });
      const leadership = new Leadership(w.db, w.res);
      await leadership.tryLead();
      expect(leadership.isLeader).toBe(true);
      const live = await bringLive(w, "org/dyn-a");
      await leadership.stepDown();
      expect(leadership.isLeader).toBe(false);
      expect(deploymentOf(w, "org/dyn-a")?.state).toBe(serversSurviveRestart ? "live" : "offline");
      expect(w.launcher.stopped).toEqual(serversSurviveRestart ? [] : [live.id]);
      await w.close();
      w = undefined;
    }
  });

  it("a new leader's policy sees the demand every instance served yesterday, from the usage records, and follows new rows", async () => {
    w = await unitWorld({ config: { scheduler: { policy: "adaptive" } } });
    const world = w;
    const MIN = 60_000;
    const now = world.clock.now();
    const cluster = world.config.models[0]?.cluster as string;
    let n = 0;
    const row = (arrivedAt: number, model: string) => ({
      at: new Date(arrivedAt + 1500),
      requestId: `req-demand-${n++}`,
      userId: "00000000-0000-4000-8000-000000000001",
      model,
      clusterName: cluster,
      route: "/v1/chat/completions",
      status: 200,
      promptTokens: 10,
      completionTokens: 5,
      latencyMs: 1500,
    });
    // Yesterday, from two hours before this hour to two after, someone started a session with
    // dyn-b every quarter of an hour; a model this config does not serve is left out.
    const yesterday = [];
    for (let t = now - 26 * 60 * MIN; t < now - 22 * 60 * MIN; t += 15 * MIN) yesterday.push(row(t, "org/dyn-b"));
    yesterday.push(row(now - 23 * 60 * MIN, "org/not-served"));
    await world.db.query('DELETE FROM "usage_records"', []);
    await world.db.prisma.usageRecord.createMany({ data: yesterday });
    try {
      const dynB = world.res.catalog.entry("lab", "org/dyn-b");
      if (!dynB) throw new Error("no dyn-b");
      const candidates = [{ key: dynB.key, model: dynB.config }];
      // This process served none of it: the policy alone would see nothing to start.
      expect(world.res.policy.prewarm?.(candidates, policyContext(world.res, now))).toEqual([]);

      const leadership = new Leadership(world.db, world.res);
      await leadership.tryLead();
      expect(leadership.isLeader).toBe(true);
      expect(world.res.history.since).toBe(now - 26 * 60 * MIN);
      expect(world.res.history.lastRequest(dynB.key)).toBe(now - 22 * 60 * MIN - 15 * MIN);
      expect(world.res.history.lastRequest("lab/org/not-served")).toBe(Number.NEGATIVE_INFINITY);
      // It is asked for about now every day: the leader's policy starts it ahead of demand.
      expect(world.res.policy.prewarm?.(candidates, policyContext(world.res, now)).map((c) => c.key)).toEqual([
        dynB.key,
      ]);

      // Another instance serves dyn-c: the leader learns of it from its usage row within a minute.
      const dynC = world.res.catalog.entry("lab", "org/dyn-c")?.key as string;
      await world.db.prisma.usageRecord.createMany({ data: [row(now + 10_000, "org/dyn-c")] });
      world.clock.advance(30_000);
      await leadership.followDemand();
      expect(world.res.history.lastRequest(dynC)).toBe(Number.NEGATIVE_INFINITY); // read at most each minute
      world.clock.advance(31_000);
      await leadership.followDemand();
      expect(world.res.history.lastRequest(dynC)).toBe(now + 10_000);
      expect(world.res.history.inSession(dynC, world.clock.now())).toBe(true);
      await leadership.stepDown();
    } finally {
      await world.db.query('DELETE FROM "usage_records"', []);
    }
  });
});
