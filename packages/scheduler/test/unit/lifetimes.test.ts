import { afterAll, afterEach, describe, expect, it } from "vitest";
import { setPinned } from "../../src/operator";
import { finishDraining } from "../../src/reconcile/drain";
import { applyLifetimes } from "../../src/reconcile/lifetimes";
import { processQueue } from "../../src/reconcile/queue";
import { refresh } from "../../src/resources";
import { acquire, holdForBatch } from "../../src/routing/acquire";
import { availability, ensureLive } from "../../src/routing/availability";
import { bringLive, closeSharedDatabase, deploymentOf, historyOf, type UnitWorld, unitWorld } from "./fakes";

const HOUR = 3_600_000;

describe("lifetimes, draining and eviction", () => {
  afterAll(closeSharedDatabase);
  let w: UnitWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });
  const now = () => new Date(w!.clock.now());

  it("drains an idle dynamic model after its TTL, unless pinned, leased or busy", async () => {
    w = await unitWorld();
    const live = await bringLive(w, "org/dyn-a"); // idleTtl 2h
    w.clock.advance(2 * HOUR - 1000);
    await applyLifetimes(w.res, now());
    expect(deploymentOf(w, "org/dyn-a")?.state).toBe("live");

    w.clock.advance(1000);
    const request = acquire(w.res, "lab", "org/dyn-a");
    w.clock.advance(2 * HOUR);
    await setPinned(w.res, "lab", "org/dyn-a", true);
    request?.release();
    await applyLifetimes(w.res, now());
    expect(deploymentOf(w, "org/dyn-a")?.state).toBe("live"); // pinned
    await setPinned(w.res, "lab", "org/dyn-a", false);
    await holdForBatch(w.res, "lab", "org/dyn-a", w.clock.now() + 1000);
    await applyLifetimes(w.res, now());
    expect(deploymentOf(w, "org/dyn-a")?.state).toBe("live"); // leased by a batch
    w.clock.advance(1001);
    await applyLifetimes(w.res, now());
    expect(deploymentOf(w, "org/dyn-a")).toMatchObject({ state: "draining", stateReason: "idle for 2h" });
    expect(availability(w.res, "lab", "org/dyn-a").status).toBe("offline");
    expect(acquire(w.res, "lab", "org/dyn-a")).toBeUndefined();
    expect(live.id).toBe(deploymentOf(w, "org/dyn-a")?.id);
  });

  it("drains at the maximum lifetime even when in use, and stops once requests finish or time out", async () => {
    w = await unitWorld();
    const live = await bringLive(w, "org/dyn-a"); // maxLifetime 24h
    const first = acquire(w.res, "lab", "org/dyn-a");
    const second = acquire(w.res, "lab", "org/dyn-a");
    w.clock.advance(24 * HOUR);
    await applyLifetimes(w.res, now());
    expect(deploymentOf(w, "org/dyn-a")).toMatchObject({
      state: "draining",
      stateReason: "maximum lifetime of 1d reached",
    });

    await finishDraining(w.res, now());
    expect(deploymentOf(w, "org/dyn-a")?.state).toBe("draining"); // two requests in flight
    first?.release();
    w.clock.advance(300_001); // drainTimeout (5 min) passes with one still in flight
    await finishDraining(w.res, now());
    expect(deploymentOf(w, "org/dyn-a")).toMatchObject({
      state: "offline",
      stateReason: "maximum lifetime of 1d reached",
    });
    expect(w.launcher.stopped).toEqual([live.id]);
    expect((await historyOf(w, live.id)).at(-1)).toBe("draining->offline: stopped (maximum lifetime of 1d reached)");
    second?.release();
  });

  it("evicts the least recently used idle model for a queued one, then places it once that one is gone", async () => {
    w = await unitWorld(); // rot-1 has 4 GPUs; each dynamic model wants 2; busyWindow is 0
    const a = await bringLive(w, "org/dyn-a");
    w.clock.advance(1000);
    const b = await bringLive(w, "org/dyn-b");
    w.clock.advance(1000);
    const busyA = acquire(w.res, "lab", "org/dyn-a");
    const busyB = acquire(w.res, "lab", "org/dyn-b");
    await ensureLive(w.res, "lab", "org/dyn-c");
    await processQueue(w.res, w.config.clusters[0]!, now());
    expect(deploymentOf(w, "org/dyn-c")).toMatchObject({
      state: "queued",
      stateReason: "waiting for 2 free GPUs on a rotating node",
    });
    expect([deploymentOf(w, "org/dyn-a")?.state, deploymentOf(w, "org/dyn-b")?.state]).toEqual(["live", "live"]);

    busyA?.release();
    busyB?.release();
    w.clock.advance(1000);
    acquire(w.res, "lab", "org/dyn-b")?.release(); // b was used last
    w.clock.advance(1000);
    await processQueue(w.res, w.config.clusters[0]!, now());
    expect(deploymentOf(w, "org/dyn-a")).toMatchObject({
      state: "draining",
      stateReason: "evicted (least recently used) to make room for org/dyn-c",
    });
    expect(deploymentOf(w, "org/dyn-b")?.state).toBe("live");
    await processQueue(w.res, w.config.clusters[0]!, now()); // waits for a to drain: evicts nobody else
    expect(deploymentOf(w, "org/dyn-b")?.state).toBe("live");

    await finishDraining(w.res, now());
    await refresh(w.res);
    await processQueue(w.res, w.config.clusters[0]!, now());
    expect(deploymentOf(w, "org/dyn-c")).toMatchObject({ state: "starting", nodeName: "rot-1" });
    expect(w.launcher.stopped).toEqual([a.id]);
    expect(b.id).toBe(deploymentOf(w, "org/dyn-b")?.id);
  });
});
