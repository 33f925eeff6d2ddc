import { afterEach, describe, expect, it } from "vitest";
import {
  type Harness,
  type LauncherKind,
  modelsWith,
  serverPid,
  slurmAvailable,
  startHarness,
  transitions,
  until,
} from "./harness";

const kinds: LauncherKind[] = ["local", ...(slurmAvailable() ? (["slurm"] as const) : [])];
const HOUR = 3_600_000;

describe.each(kinds)("the deployment lifecycle with the %s launcher", (kind) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });
  const live = (model: string) => () => h!.scheduler.availability("lab", model).status === "live";

  it("starts hot models at boot and records every transition", async () => {
    h = await startHarness(kind);
    await until(h, live("org/hot"), "the hot model live");
    const availability = h.scheduler.availability("lab", "org/hot");
    expect(availability).toMatchObject({ status: "live", baseUrl: expect.stringMatching(/^http:\/\//) });
    const health = await fetch(`${availability.baseUrl}/health`);
    expect(health.status).toBe(200);
    expect(health.headers.get("x-switchyard-simulator")).toBe("1");
    const history = await transitions(h, availability.deploymentId!);
    expect(history).toEqual(["offline->queued", "queued->starting", "starting->live"]);
    const record = h.scheduler.deployments().find((d) => d.id === availability.deploymentId);
    expect(record?.nodeName).toBe("hot-1");
  });

  it("brings an offline model live on demand, saying it is on its way meanwhile", async () => {
    h = await startHarness(kind);
    expect(h.scheduler.availability("lab", "org/dyn-a")).toMatchObject({ status: "offline", deploymentId: null });
    const first = await h.scheduler.ensureLive("lab", "org/dyn-a");
    expect(["queued", "starting"]).toContain(first.status);
    expect(first.etaSeconds).toBeGreaterThanOrEqual(0);
    expect(first.etaSeconds).toBeLessThanOrEqual(0.3);
    await until(h, live("org/dyn-a"), "dyn-a live");
    const record = h.scheduler
      .deployments()
      .find((d) => d.id === h!.scheduler.availability("lab", "org/dyn-a").deploymentId);
    expect(record?.nodeName).toBe("rot-1");
    const replica = h.scheduler.acquire("lab", "org/dyn-a");
    expect(replica?.baseUrl).toBe(h.scheduler.availability("lab", "org/dyn-a").baseUrl);
    replica?.release();
  });

  it("starts a cold model exactly once for 1,000 concurrent callers", async () => {
    h = await startHarness(kind);
    const results = await Promise.all(Array.from({ length: 1000 }, () => h!.scheduler.ensureLive("lab", "org/dyn-b")));
    const ids = new Set(results.map((r) => r.deploymentId));
    expect(ids.size).toBe(1);
    const model = await h.db.prisma.model.findFirstOrThrow({ where: { name: "org/dyn-b" } });
    expect(await h.db.prisma.deployment.count({ where: { modelId: model.id } })).toBe(1);
    await until(h, live("org/dyn-b"), "dyn-b live");
  });

  it("evicts the least recently used idle model when the rotating node is full, never a busy one", async () => {
    h = await startHarness(kind);
    await h.scheduler.ensureLive("lab", "org/dyn-a");
    await h.scheduler.ensureLive("lab", "org/dyn-b");
    await until(h, () => live("org/dyn-a")() && live("org/dyn-b")(), "a and b live");
    h.scheduler.acquire("lab", "org/dyn-a")?.release();
    h.clock.advance(1000);
    h.scheduler.acquire("lab", "org/dyn-b")?.release(); // b is the more recently used
    const aId = h.scheduler.availability("lab", "org/dyn-a").deploymentId!;

    await h.scheduler.ensureLive("lab", "org/dyn-c");
    await until(h, live("org/dyn-c"), "c live after an eviction");
    expect(h.scheduler.availability("lab", "org/dyn-a").status).toBe("offline");
    expect(h.scheduler.availability("lab", "org/dyn-b").status).toBe("live");
    const evicted = await h.db.prisma.deploymentTransition.findFirst({
      where: { deploymentId: aId, toState: "draining" },
    });
    expect(evicted?.cause).toMatch(/evicted \(least recently used\) to make room for org\/dyn-c/);

    // Now b has a request in flight and c a batch lease: a waits in the queue instead.
    const inFlight = h.scheduler.acquire("lab", "org/dyn-b");
    await h.scheduler.holdForBatch("lab", "org/dyn-c", h.clock.now() + HOUR);
    const waiting = await h.scheduler.ensureLive("lab", "org/dyn-a");
    await h.scheduler.tick();
    const queued = h.scheduler.availability("lab", "org/dyn-a");
    expect(waiting.status).toBe("queued");
    expect(queued).toMatchObject({
      status: "queued",
      queuePosition: 1,
      reason: "waiting for 2 free GPUs on a rotating node",
    });
    expect(h.scheduler.availability("lab", "org/dyn-b").status).toBe("live");
    expect(h.scheduler.availability("lab", "org/dyn-c").status).toBe("live");
    inFlight?.release();
  });

  it("detects a killed server: a hot model restarts, a dynamic one fails with its last log lines", async () => {
    h = await startHarness(kind);
    await h.scheduler.ensureLive("lab", "org/dyn-a");
    await until(h, () => live("org/hot")() && live("org/dyn-a")(), "hot and dyn-a live");
    const hotId = h.scheduler.availability("lab", "org/hot").deploymentId!;
    const dynId = h.scheduler.availability("lab", "org/dyn-a").deploymentId!;
    for (const id of [hotId, dynId]) {
      const pid = serverPid(id);
      expect(pid, `pid of ${id}`).toBeDefined();
      process.kill(pid!, "SIGKILL");
    }
    await until(
      h,
      () =>
        h!.scheduler.deployments().filter((d) => [hotId, dynId].includes(d.id) && d.state === "failed").length === 2,
      "both failed",
    );
    const dyn = h.scheduler.availability("lab", "org/dyn-a");
    expect(dyn.status).toBe("offline");
    expect(dyn.reason).toMatch(/exited|ended/);
    expect(dyn.reason).toMatch(/last log lines:[\s\S]*simulator/);
    await until(
      h,
      () => live("org/hot")() && h!.scheduler.availability("lab", "org/hot").deploymentId !== hotId,
      "the hot model restarted",
      {
        advanceMs: 500,
      },
    );
  });

  it("takes an unhealthy server out of traffic and back once it recovers", async () => {
    h = await startHarness(kind);
    await until(h, live("org/hot"), "hot live");
    const id = h.scheduler.availability("lab", "org/hot").deploymentId!;
    const pid = serverPid(id)!;
    process.kill(pid, "SIGSTOP");
    try {
      await until(h, () => h!.scheduler.availability("lab", "org/hot").status === "starting", "out of traffic", {
        advanceMs: 250,
      });
      expect(h.scheduler.acquire("lab", "org/hot")).toBeUndefined();
      const reason = await h.db.prisma.deploymentTransition.findFirst({
        where: { deploymentId: id, fromState: "live", toState: "starting" },
      });
      expect(reason?.cause).toMatch(/health check failed 2 times/);
    } finally {
      process.kill(pid, "SIGCONT");
    }
    await until(h, live("org/hot"), "live again", { advanceMs: 250 });
    expect(h.scheduler.availability("lab", "org/hot").deploymentId).toBe(id);
  });

  it("stops an idle model after its TTL and drains a busy one at its maximum lifetime", async () => {
    h = await startHarness(kind);
    await h.scheduler.ensureLive("lab", "org/dyn-a");
    await until(h, live("org/dyn-a"), "dyn-a live");
    h.clock.advance(2 * HOUR - 60_000);
    await h.scheduler.tick();
    expect(h.scheduler.availability("lab", "org/dyn-a").status).toBe("live");
    h.clock.advance(61_000);
    await until(h, () => h!.scheduler.availability("lab", "org/dyn-a").status === "offline", "stopped when idle");
    const idleId = (
      await h.db.prisma.deployment.findFirstOrThrow({ where: { state: "offline" }, orderBy: { createdAt: "desc" } })
    ).id;
    expect(await transitions(h, idleId)).toEqual([
      "offline->queued",
      "queued->starting",
      "starting->live",
      "live->draining",
      "draining->offline",
    ]);

    await h.scheduler.ensureLive("lab", "org/dyn-a");
    await until(h, live("org/dyn-a"), "dyn-a live again");
    const busy = h.scheduler.acquire("lab", "org/dyn-a")!;
    h.clock.advance(24 * HOUR);
    await h.scheduler.tick();
    const draining = h.scheduler.deployments().find((d) => d.id === busy.deploymentId);
    expect(draining?.state).toBe("draining");
    expect(draining?.stateReason).toMatch(/maximum lifetime of 1d reached/);
    expect(h.scheduler.acquire("lab", "org/dyn-a")).toBeUndefined(); // no new requests
    await h.scheduler.tick();
    expect(h.scheduler.deployments().find((d) => d.id === busy.deploymentId)?.state).toBe("draining"); // in flight finishes first
    busy.release();
    const stateOf = async (id: string) => (await h!.db.prisma.deployment.findUniqueOrThrow({ where: { id } })).state;
    await until(h, async () => (await stateOf(busy.deploymentId)) === "offline", "drained");
  });

  it("adds a replica while demand stays above replicaConcurrency and drains it when demand falls", async () => {
    h = await startHarness(kind, {
      scheduler: { tickInterval: "100ms", healthInterval: "200ms", scaling: { upWindow: "1s", downWindow: "2s" } },
      models: modelsWith("org/dyn-a", { maxReplicas: 2, replicaConcurrency: 2 }),
    });
    const current = () =>
      h!.scheduler
        .deployments()
        .filter((d) => h!.scheduler.modelOf(d)?.id === "org/dyn-a" && ["queued", "starting", "live"].includes(d.state));
    await h.scheduler.ensureLive("lab", "org/dyn-a");
    await until(h, live("org/dyn-a"), "dyn-a live");
    // Five requests in flight on one replica of two: more than it serves well.
    const requests = Array.from({ length: 5 }, () => h!.scheduler.acquire("lab", "org/dyn-a")!);
    const first = requests[0]!.deploymentId;
    await until(h, () => current().filter((d) => d.state === "live").length === 2, "a second replica live", {
      advanceMs: 500,
    });
    const second = current().find((d) => d.id !== first)!;
    expect(second).toMatchObject({ replica: 1, nodeName: "rot-1" });
    const health = await fetch(`http://${second.host}:${second.port}/health`);
    expect(health.status).toBe(200);
    // The next request goes to the idle new replica, not the busy first one.
    const next = h.scheduler.acquire("lab", "org/dyn-a")!;
    expect(next.deploymentId).toBe(second.id);
    next.release();
    for (const request of requests) request.release();
    const stateOf = async (id: string) => (await h!.db.prisma.deployment.findUniqueOrThrow({ where: { id } })).state;
    await until(h, async () => (await stateOf(second.id)) === "offline", "the second replica stopped", {
      advanceMs: 500,
    });
    expect(current().map((d) => d.id)).toEqual([first]);
    expect(await transitions(h, second.id)).toEqual([
      "offline->queued",
      "queued->starting",
      "starting->live",
      "live->draining",
      "draining->offline",
    ]);
  });

  it("reports a cluster in maintenance and starts nothing there", async () => {
    h = await startHarness(kind);
    await h.db.prisma.cluster.update({
      where: { name: "lab" },
      data: { maintenanceSince: new Date(), maintenanceReason: "firmware upgrade" },
    });
    await h.scheduler.tick();
    const availability = await h.scheduler.ensureLive("lab", "org/dyn-a");
    expect(availability).toMatchObject({
      status: "offline",
      reason: "cluster lab is in maintenance: firmware upgrade",
    });
    const model = await h.db.prisma.model.findFirstOrThrow({ where: { name: "org/dyn-a" } });
    expect(await h.db.prisma.deployment.count({ where: { modelId: model.id } })).toBe(0);
  });
});

describe("operator actions", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it("start, stop, restart, pin and maintenance, each seen as change events", async () => {
    h = await startHarness("local");
    const events: string[] = [];
    h.scheduler.subscribe((e) => events.push(`${e.model}:${e.from}->${e.to}`));
    await h.scheduler.startModel("lab", "org/dyn-a");
    await until(h, () => h!.scheduler.availability("lab", "org/dyn-a").status === "live", "started");
    expect(events).toEqual(
      expect.arrayContaining(["org/dyn-a:offline->queued", "org/dyn-a:queued->starting", "org/dyn-a:starting->live"]),
    );

    const first = h.scheduler.availability("lab", "org/dyn-a").deploymentId;
    const restarted = await h.scheduler.restartModel("lab", "org/dyn-a");
    expect(restarted.deploymentId).not.toBe(first);
    await until(h, () => h!.scheduler.availability("lab", "org/dyn-a").status === "live", "live after restart");

    await h.scheduler.setPinned("lab", "org/dyn-a", true);
    expect(h.scheduler.isPinned("lab", "org/dyn-a")).toBe(true);
    h.clock.advance(3 * 3_600_000);
    await h.scheduler.tick();
    expect(h.scheduler.availability("lab", "org/dyn-a").status).toBe("live"); // pinned: no idle stop

    expect(await h.scheduler.stopModel("lab", "org/dyn-a")).toBe(true);
    await until(h, () => h!.scheduler.availability("lab", "org/dyn-a").status === "offline", "stopped");
    expect(events).toContain("org/dyn-a:live->draining");

    await h.scheduler.setMaintenance("lab", "power work");
    expect(h.scheduler.availability("lab", "org/hot")).toMatchObject({
      status: "offline",
      reason: "cluster lab is in maintenance: power work",
    });
    await h.scheduler.setMaintenance("lab", null);
    expect(h.scheduler.availability("lab", "org/hot").status).toBe("live");
  });
});
