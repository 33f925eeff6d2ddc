import { afterAll, afterEach, describe, expect, it } from "vitest";
import { ensureHotModels } from "../../src/reconcile/hot-models";
import { processQueue } from "../../src/reconcile/queue";
import { checkStarting } from "../../src/reconcile/readiness";
import { scaleReplicas } from "../../src/reconcile/replicas";
import { refresh } from "../../src/resources";
import { acquire } from "../../src/routing/acquire";
import { modelsWith } from "../harness";
import { bringLive, closeSharedDatabase, historyOf, type UnitWorld, unitWorld } from "./fakes";

/** Replicas that follow demand: the scaling step with a fake launcher, a manual clock and a real database. */

const SCALING = { upWindow: "10s", downWindow: "60s", demandInterval: "1s" };

const SCHEDULER = { tickInterval: "100ms", healthInterval: "200ms", healthFailures: 2, busyWindow: 0 };

/** The test catalog with org/dyn-a allowed 3 replicas of 4 requests each (1 GPU each; rot-1 has 4). */
function world(extra: Record<string, unknown> = {}): Promise<UnitWorld> {
  return unitWorld({
    config: {
      scheduler: { ...SCHEDULER, scaling: SCALING },
      models: modelsWith("org/dyn-a", { gpus: 1, maxReplicas: 3, replicaConcurrency: 4, ...extra }),
    },
  });
}

const current = (w: UnitWorld, model: string) => {
  const entry = w.res.catalog.entry("lab", model)!;
  return w.res.snapshot
    .ofModel(entry.rowId)
    .filter((d) => ["queued", "starting", "live"].includes(d.state))
    .sort((a, b) => a.replica - b.replica);
};

/** `count` requests in flight to the model through this process (what a gateway's requests are). */
function inFlight(w: UnitWorld, model: string, count: number): (() => void)[] {
  return Array.from({ length: count }, () => acquire(w.res, "lab", model)!.release);
}

async function pass(w: UnitWorld): Promise<void> {
  const now = new Date(w.clock.now());
  await scaleReplicas(w.res, now);
  await refresh(w.res);
  await processQueue(w.res, w.config.clusters[0]!, now);
  for (const d of current(w, "org/dyn-a")) if (d.host) w.ready.set(`http://${d.host}:${d.port}`, true);
  await checkStarting(w.res, now);
}

describe("replicas that follow demand", () => {
  afterAll(closeSharedDatabase);
  let w: UnitWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it("starts more replicas only after demand has stayed above replicaConcurrency for the up window", async () => {
    w = await world();
    await bringLive(w, "org/dyn-a");
    const done = inFlight(w, "org/dyn-a", 9); // 9 requests, 4 per replica: 3 replicas
    await pass(w);
    w.clock.advance(9_000);
    await pass(w);
    expect(current(w, "org/dyn-a")).toHaveLength(1); // a burst shorter than the window starts nothing
    w.clock.advance(1_000);
    await pass(w);
    const replicas = current(w, "org/dyn-a");
    expect(replicas.map((d) => [d.replica, d.state])).toEqual([
      [0, "live"],
      [1, "live"],
      [2, "live"],
    ]);
    expect(await historyOf(w, replicas[1]!.id)).toEqual([
      "offline->queued: replica 2 of up to 3: 9 requests for 1 replica (4 each)",
      "queued->starting: started on rot-1",
      "starting->live: ready",
    ]);
    // New requests go to the least loaded replica: the new ones, until they catch up.
    const next = acquire(w.res, "lab", "org/dyn-a")!;
    expect(next.deploymentId).not.toBe(replicas[0]!.id);
    next.release();
    for (const release of done) release();
  });

  it("counts other instances' demand from the database, and only while their rows are fresh", async () => {
    w = await world();
    await bringLive(w, "org/dyn-a");
    const rowId = w.res.catalog.entry("lab", "org/dyn-a")!.rowId;
    const write = (waiting: number) =>
      w!.res.store.writeDemand("gateway-b", new Map([[rowId, { inFlight: 3, waiting }]]), new Date(w!.clock.now()));
    await write(3); // 6 on another instance: 2 replicas
    await pass(w);
    w.clock.advance(10_000);
    await write(3);
    await pass(w);
    expect(current(w, "org/dyn-a")).toHaveLength(2);
    // That instance stops writing (it died): its last figures are ignored after three intervals.
    const totals = await w.res.demand.totals(w.res.store, w.clock.now() + 3_500, 1000);
    expect(totals.get(rowId)).toBeUndefined();
  });

  it("counts held requests and a batch's unsent lines as demand, and shares them", async () => {
    w = await world();
    const rowId = w.res.catalog.entry("lab", "org/dyn-a")!.rowId;
    const held = w.res.demand.hold(rowId);
    w.res.demand.setBacklog("batch_1", rowId, 500);
    expect(w.res.demand.local().get(rowId)).toEqual({ inFlight: 0, waiting: 501 });
    await w.res.demand.share(w.res.store, w.res.logger, w.clock.now(), 1000);
    const seen = await w.res.store.readDemand("someone-else", new Date(w.clock.now() - 1000));
    expect(seen.get(rowId)).toEqual({ inFlight: 0, waiting: 501 });
    held();
    w.res.demand.setBacklog("batch_1", rowId, 0);
    w.clock.advance(1_000);
    await w.res.demand.share(w.res.store, w.res.logger, w.clock.now(), 1000);
    // Ended demand is written once as zero, not left at its last figure.
    expect((await w.res.store.readDemand("someone-else", new Date(w.clock.now() - 1000))).get(rowId)).toEqual({
      inFlight: 0,
      waiting: 0,
    });
  });

  it("never evicts another model for an extra replica: it waits for free GPUs", async () => {
    w = await world({ gpus: 2 });
    await bringLive(w, "org/dyn-b"); // idle, evictable, on 2 of rot-1's 4 GPUs
    await bringLive(w, "org/dyn-a"); // the other 2
    const done = inFlight(w, "org/dyn-a", 8);
    await pass(w);
    w.clock.advance(10_000);
    await pass(w);
    expect(current(w, "org/dyn-a")).toHaveLength(1);
    expect(current(w, "org/dyn-b").map((d) => d.state)).toEqual(["live"]);
    for (const release of done) release();
  });

  it("drains one extra replica per down window once demand has fallen, newest first, and keeps one", async () => {
    w = await world();
    await bringLive(w, "org/dyn-a");
    const done = inFlight(w, "org/dyn-a", 12);
    await pass(w);
    w.clock.advance(10_000);
    await pass(w);
    expect(current(w, "org/dyn-a")).toHaveLength(3);
    for (const release of done) release();
    await pass(w);
    w.clock.advance(59_000);
    await pass(w);
    expect(current(w, "org/dyn-a")).toHaveLength(3);
    w.clock.advance(1_000);
    await pass(w);
    expect(current(w, "org/dyn-a").map((d) => d.replica)).toEqual([0, 1]);
    w.clock.advance(60_000);
    await pass(w);
    w.clock.advance(60_000);
    await pass(w);
    expect(current(w, "org/dyn-a").map((d) => d.replica)).toEqual([0]);
  });

  it("keeps a hot model's minReplicas running, each slot started once", async () => {
    w = await unitWorld({ config: { scheduler: SCHEDULER, models: modelsWith("org/hot", { minReplicas: 2 }) } });
    await Promise.all([ensureHotModels(w.res), ensureHotModels(w.res)]);
    await refresh(w.res);
    expect(current(w, "org/hot").map((d) => d.replica)).toEqual([0, 1]);
  });

  it("starts each replica slot exactly once when two schedulers enqueue it at the same moment", async () => {
    w = await world();
    const entry = w.res.catalog.entry("lab", "org/dyn-a")!;
    const input = (replica: number) => ({
      modelId: entry.rowId,
      replica,
      cluster: "lab",
      launcher: "local",
      gpus: 1,
      serverKey: null,
      cause: "test",
      now: new Date(w!.clock.now()),
    });
    const results = await Promise.all([
      w.res.store.enqueue(input(1)),
      w.res.store.enqueue(input(1)),
      w.res.store.enqueue(input(0)),
    ]);
    expect(results.filter((r) => r.created)).toHaveLength(2);
    expect(results[0]!.record.id).toBe(results[1]!.record.id);
    await refresh(w.res);
    expect(current(w, "org/dyn-a").map((d) => d.replica)).toEqual([0, 1]);
  });
});
