import type { ClusterConfig, ResolvedModel } from "@switchyard/core";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { keptReplicas, setPinned } from "../../src/operator";
import { ensureHotModels } from "../../src/reconcile/hot-models";
import { applyLifetimes } from "../../src/reconcile/lifetimes";
import { prewarmModels } from "../../src/reconcile/prewarm";
import { refresh, type SchedulerResources } from "../../src/resources";
import { availability, ensureLive } from "../../src/routing/availability";
import type { Scheduler } from "../../src/scheduler";
import type { DeploymentRecord } from "../../src/store";
import { modelObject, resourceJobsView } from "../../src/views";
import { bringLive, closeSharedDatabase, deploymentOf, historyOf, type UnitWorld, unitWorld } from "./fakes";

const MIN = 60_000;

/** What the views ask of the scheduler, from a world's resources. */
function viewsOf(res: SchedulerResources): Scheduler {
  return {
    availability: (c: string, m: string) => availability(res, c, m),
    deploymentsOf: (c: string, m: string) => {
      const entry = res.catalog.entry(c, m);
      return entry ? res.snapshot.ofModel(entry.rowId) : [];
    },
    keptReplicas: (c: string, m: string) => keptReplicas(res, c, m),
    modelOf: (r: DeploymentRecord) => res.catalog.ofRow(r.modelId)?.config,
    inflightOf: (deploymentId: string) => res.inFlight.of(deploymentId),
    now: () => res.now(),
    deployments: () => res.snapshot.all(),
    clusterProblem: (c: ClusterConfig) => res.snapshot.clusterProblem(c),
  } as unknown as Scheduler;
}

/** The reconcile steps call the policy the config names. */
describe("scheduler.policy in the reconcile steps", () => {
  afterAll(closeSharedDatabase);
  let w: UnitWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });
  const now = () => new Date(w!.clock.now());

  it("predictive keeps a model asked for all day past current's idle TTL, and lets a one-off go", async () => {
    w = await unitWorld({ config: { scheduler: { policy: "predictive" } } });
    expect(w.res.policy.name).toBe("predictive");
    const key = w.res.catalog.entry("lab", "org/dyn-b")?.key as string;
    // dyn-b has had a session every 40 minutes for the last 8 hours.
    for (let t = w.clock.now() - 8 * 60 * MIN; t < w.clock.now(); t += 40 * MIN) w.res.history.record(key, t);
    await bringLive(w, "org/dyn-b");
    const oneOff = await bringLive(w, "org/dyn-a");
    w.clock.advance(3 * 60 * MIN);
    await applyLifetimes(w.res, now());
    // Three hours idle: current would have stopped both at two; predictive keeps both (a one-off
    // on 2 GPUs with a 10 min load is still worth its GPUs at a 10 % chance).
    expect(deploymentOf(w, "org/dyn-b")?.state).toBe("live");
    expect(deploymentOf(w, "org/dyn-a")?.state).toBe("live");
    w.clock.advance(9 * 60 * MIN);
    await applyLifetimes(w.res, now());
    // Twelve hours idle: the popular one stays, the one-off has faded below its GPUs' worth.
    expect(deploymentOf(w, "org/dyn-b")?.state).toBe("live");
    expect(deploymentOf(w, "org/dyn-a")?.state).toBe("draining");
    expect((await historyOf(w, oneOff.id)).at(-1)).toMatch(
      /^live->draining: idle for 12h and unlikely to be asked for within 1h \(\d %, on 2 GPUs\)$/,
    );
  });

  it("current keeps the same model until its idle TTL", async () => {
    w = await unitWorld();
    expect(w.res.policy.name).toBe("current");
    await bringLive(w, "org/dyn-a");
    w.clock.advance(119 * MIN);
    await applyLifetimes(w.res, now());
    expect(deploymentOf(w, "org/dyn-a")?.state).toBe("live");
  });

  it("adaptive starts a hot model by demand (its prior) rather than always, unless an operator pinned it", async () => {
    w = await unitWorld({ config: { scheduler: { policy: "adaptive" } } });
    await ensureHotModels(w.res);
    await refresh(w.res);
    expect(deploymentOf(w, "org/hot")).toBeUndefined();
    await prewarmModels(w.res, now());
    await refresh(w.res);
    const hot = deploymentOf(w, "org/hot");
    expect(hot?.state).toBe("queued");
    expect(await historyOf(w, hot?.id as string)).toEqual([
      "offline->queued: started ahead of demand (usually asked for about now)",
    ]);
    // Dynamic models nobody asked for are not started ahead of demand.
    expect(deploymentOf(w, "org/dyn-a")).toBeUndefined();
  });

  it("predictive starts a model asked for every day at this hour where GPUs are free, in one pass", async () => {
    w = await unitWorld({ config: { scheduler: { policy: "predictive" } } });
    const t = w.clock.now();
    for (const model of ["org/dyn-a", "org/dyn-b"]) {
      const key = w.res.catalog.entry("lab", model)?.key as string;
      // Three sessions in this hour of each of the last three days (in time order, as they came).
      for (let day = 3; day >= 1; day--)
        for (let s = 0; s < 3; s++) w.res.history.record(key, t - day * 24 * 60 * MIN + s * 15 * MIN);
    }
    await prewarmModels(w.res, now());
    await refresh(w.res);
    // The rotating node has 4 GPUs: both 2-GPU models fit; dyn-c, never asked for, is left alone.
    expect(deploymentOf(w, "org/dyn-a")?.state).toBe("queued");
    expect(deploymentOf(w, "org/dyn-b")?.state).toBe("queued");
    expect(deploymentOf(w, "org/dyn-c")).toBeUndefined();
  });

  it("adaptive still keeps a pinned hot model running as hot models always are", async () => {
    w = await unitWorld({ config: { scheduler: { policy: "adaptive" } } });
    await setPinned(w.res, "lab", "org/hot", true);
    await refresh(w.res);
    await ensureHotModels(w.res);
    await refresh(w.res);
    const hot = deploymentOf(w, "org/hot");
    expect(hot?.state).toBe("queued");
    expect(await historyOf(w, hot?.id as string)).toEqual(["offline->queued: hot model"]);
  });

  it("adaptive: a hot model nobody pinned, with no deployment, reads Offline waiting for demand, and a request starts it", async () => {
    w = await unitWorld({ config: { scheduler: { policy: "adaptive" } } });
    await ensureHotModels(w.res);
    await refresh(w.res);
    expect(deploymentOf(w, "org/hot")).toBeUndefined();
    const scheduler = viewsOf(w.res);
    const hot = w.config.models.find((m) => m.id === "org/hot") as ResolvedModel;
    const cluster = w.config.clusters[0] as ClusterConfig;
    // Offline with no failure to report, and kept at 0 replicas: not a hot model below its minimum.
    expect(modelObject(scheduler, hot, 0)).toMatchObject({
      status: "offline",
      status_reason: null,
      queue_position: null,
      eta_seconds: null,
      replicas: { live: 0, starting: 0, queued: 0, draining: 0, min: 0 },
    });
    const jobs = resourceJobsView(w.config, scheduler, cluster, { addresses: false });
    expect(jobs.stopped.map((m) => m.Models)).toContain("org/hot");
    expect(jobs.cluster_status).toMatchObject({ maintenance: false });
    // A request (the gateway's cold-start hold calls ensureLive) queues it like a dynamic model.
    const held = await ensureLive(w.res, "lab", "org/hot");
    expect(held).toMatchObject({ status: "queued", queuePosition: 1, reason: null });
    expect(held.etaSeconds).toBeGreaterThan(0);
    expect(await historyOf(w, held.deploymentId as string)).toEqual(["offline->queued: requested"]);
    expect(modelObject(scheduler, hot, 0)).toMatchObject({ status: "queued", replicas: { queued: 1, min: 0 } });
    // Pinned, it is kept as hot models always are: its minimum is back.
    await setPinned(w.res, "lab", "org/hot", true);
    await refresh(w.res);
    expect(modelObject(scheduler, hot, 0).replicas.min).toBe(1);
  });
});
