import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { DeploymentEvent } from "../../src/events";
import { setMaintenance } from "../../src/operator";
import { processQueue } from "../../src/reconcile/queue";
import { acquire, holdForBatch } from "../../src/routing/acquire";
import { availability, ensureLive } from "../../src/routing/availability";
import { bringLive, closeSharedDatabase, deploymentOf, type UnitWorld, unitWorld } from "./fakes";

describe("routing a request to a replica", () => {
  afterAll(closeSharedDatabase);
  let w: UnitWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it("says why a model cannot be used: not in the catalog, or its cluster in maintenance", async () => {
    w = await unitWorld();
    expect(availability(w.res, "lab", "org/nope")).toMatchObject({ status: "offline", reason: "not in the catalog" });
    await setMaintenance(w.res, "lab", "new GPUs");
    const during = await ensureLive(w.res, "lab", "org/dyn-a");
    expect(during).toMatchObject({ status: "offline", reason: "cluster lab is in maintenance: new GPUs" });
    expect(deploymentOf(w, "org/dyn-a")).toBeUndefined(); // nothing was queued
    expect(acquire(w.res, "lab", "org/dyn-a")).toBeUndefined();
  });

  it("queues a cold model once for many concurrent callers, with its position and ETA", async () => {
    w = await unitWorld();
    const events: DeploymentEvent[] = [];
    w.res.events.subscribe((e) => events.push(e));
    const answers = await Promise.all(Array.from({ length: 50 }, () => ensureLive(w!.res, "lab", "org/dyn-a")));
    expect(new Set(answers.map((a) => a.deploymentId)).size).toBe(1);
    expect(answers[0]).toMatchObject({ status: "queued", queuePosition: 1, etaSeconds: 0.3, baseUrl: null });
    expect(events.map((e) => `${e.model} ${e.from}->${e.to} (${e.cause})`)).toEqual([
      "org/dyn-a offline->queued (requested)",
    ]);
    expect(w.wakes).toBeGreaterThan(0); // the loop is asked for a pass at once
    w.clock.advance(1000);
    const second = await ensureLive(w.res, "lab", "org/dyn-b");
    expect(second).toMatchObject({ status: "queued", queuePosition: 2 });
  });

  it("sends a request to the least loaded live replica and counts it until released once", async () => {
    w = await unitWorld();
    const live = await bringLive(w, "org/dyn-a");
    // A second live replica of the same model, as the snapshot could hold it.
    const twin = { ...live, id: "dep_twin", port: (live.port ?? 0) + 1 };
    w.res.snapshot.remember(twin);
    const first = acquire(w.res, "lab", "org/dyn-a");
    const second = acquire(w.res, "lab", "org/dyn-a");
    expect(new Set([first?.deploymentId, second?.deploymentId])).toEqual(new Set([live.id, twin.id]));
    expect(first?.authorization).toMatch(/^Bearer sy-server-/);
    expect(first?.baseUrl).toBe(`http://127.0.0.1:${live.port}`);
    first?.release();
    first?.release(); // a second release does not free someone else's slot
    expect(w.res.inFlight.of(first!.deploymentId)).toBe(0);
    expect(w.res.inFlight.of(second!.deploymentId)).toBe(1);
    expect(acquire(w.res, "lab", "org/dyn-a")?.deploymentId).toBe(first?.deploymentId);
  });

  it("reports a starting model's ETA by the injected clock", async () => {
    w = await unitWorld({
      config: {
        models: [
          {
            id: "org/slow",
            cluster: "lab",
            framework: "vllm",
            capabilities: ["chat"],
            placement: "dynamic",
            gpus: 1,
            engine: { type: "simulator", loadTime: "20s", profile: "fast" },
          },
        ],
      },
    });
    await ensureLive(w.res, "lab", "org/slow");
    await processQueue(w.res, w.config.clusters[0]!, new Date(w.clock.now()));
    expect(availability(w.res, "lab", "org/slow")).toMatchObject({ status: "starting", etaSeconds: 20 });
    w.clock.advance(15_000);
    expect(availability(w.res, "lab", "org/slow")).toMatchObject({ status: "starting", etaSeconds: 5 });
    w.clock.advance(60_000);
    expect(availability(w.res, "lab", "org/slow").etaSeconds).toBe(0);
  });

  it("writes use times at most every 5 s, and a batch lease to the database", async () => {
    w = await unitWorld();
    const live = await bringLive(w, "org/dyn-a");
    w.clock.advance(60_000);
    acquire(w.res, "lab", "org/dyn-a")?.release();
    expect(w.res.inFlight.lastUsed(live)).toBe(w.clock.now());
    await w.res.inFlight.flush(w.res.store, w.res.logger, w.clock.now(), false);
    const row = () => w!.db.prisma.deployment.findUniqueOrThrow({ where: { id: live.id } });
    expect((await row()).lastRequestAt?.getTime()).toBe(w.clock.now());
    const flushedAt = w.clock.now();
    w.clock.advance(1000);
    acquire(w.res, "lab", "org/dyn-a")?.release();
    await w.res.inFlight.flush(w.res.store, w.res.logger, w.clock.now(), false);
    expect((await row()).lastRequestAt?.getTime()).toBe(flushedAt); // within 5 s of the last write
    await w.res.inFlight.flush(w.res.store, w.res.logger, w.clock.now(), true);
    expect((await row()).lastRequestAt?.getTime()).toBe(w.clock.now());

    const until = w.clock.now() + 3_600_000;
    await holdForBatch(w.res, "lab", "org/dyn-a", until);
    expect((await row()).busyUntil?.getTime()).toBe(until);
  });
});
