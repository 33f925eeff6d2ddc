import type { ClusterConfig, SwitchyardConfigInput } from "@switchyard/core";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { drain, setPinned } from "../../src/operator";
import { finishDraining } from "../../src/reconcile/drain";
import { observe } from "../../src/reconcile/observe";
import { processQueue } from "../../src/reconcile/queue";
import { acquire } from "../../src/routing/acquire";
import { availability, ensureLive } from "../../src/routing/availability";
import type { Scheduler } from "../../src/scheduler";
import type { DeploymentRecord } from "../../src/store";
import { resourceJobsView } from "../../src/views";
import { bringLive, closeSharedDatabase, deploymentOf, type UnitWorld, unitWorld } from "./fakes";

/**
 * One rotating node of 4 GPUs (`rot-1`); every dynamic model takes 2 GPUs, so two fill it. Load times are long enough to tell apart.
 */
function config(): Partial<SwitchyardConfigInput> {
  const model = (id: string, loadTime: string) => ({
    id,
    cluster: "lab",
    framework: "vllm",
    capabilities: ["chat" as const],
    placement: "dynamic" as const,
    gpus: 2,
    engine: { type: "simulator" as const, loadTime, profile: "fast" as const },
  });
  return {
    scheduler: { busyWindow: "30s", drainTimeout: "60s", minStartTimeout: "60s" },
    models: [
      {
        id: "org/hot",
        cluster: "lab",
        framework: "vllm",
        capabilities: ["chat"],
        placement: "hot",
        node: "hot-1",
        gpus: 2,
        engine: { type: "simulator", loadTime: "5s", profile: "fast" },
      },
      model("org/dyn-a", "20s"),
      model("org/dyn-b", "20s"),
      model("org/dyn-c", "10s"),
      model("org/dyn-d", "15s"),
    ],
  };
}

describe("the ETA of a queued model", () => {
  afterAll(closeSharedDatabase);
  let w: UnitWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });
  const eta = (model: string) => availability(w!.res, "lab", model).etaSeconds;
  const pass = async () => {
    const now = new Date(w!.clock.now());
    await finishDraining(w!.res, now);
    await processQueue(w!.res, w!.config.clusters[0]!, now);
  };

  it("is its load time when there is room at once", async () => {
    w = await unitWorld({ config: config() });
    expect(await ensureLive(w.res, "lab", "org/dyn-c")).toMatchObject({ status: "queued", etaSeconds: 10 });
  });

  it("waits for what holds its node to become evictable, then to drain, then loads", async () => {
    w = await unitWorld({ config: config() });
    await bringLive(w, "org/dyn-a");
    await bringLive(w, "org/dyn-b");
    // Both just went live: neither may be evicted before busyWindow (30 s) has passed.
    expect(await ensureLive(w.res, "lab", "org/dyn-c")).toMatchObject({ status: "queued", etaSeconds: 40 });
    w.clock.advance(10_000);
    expect(eta("org/dyn-c")).toBe(30);
    // A request in flight on dyn-a changes nothing: dyn-b is free to go at the same time.
    const request = acquire(w.res, "lab", "org/dyn-a");
    expect(eta("org/dyn-c")).toBe(30);
    w.clock.advance(20_000);
    await pass(); // dyn-b is evicted (least recently used, idle), and drains with nothing in flight
    expect(deploymentOf(w, "org/dyn-b")?.state).toBe("draining");
    expect(eta("org/dyn-c")).toBe(10);
    await pass(); // dyn-b stops; dyn-c starts
    expect(availability(w.res, "lab", "org/dyn-c")).toMatchObject({ status: "starting", etaSeconds: 10 });
    request?.release();
  });

  it("counts a drain with requests in flight up to drainTimeout, and is unknown behind busy deployments", async () => {
    w = await unitWorld({ config: config() });
    const a = await bringLive(w, "org/dyn-a");
    await bringLive(w, "org/dyn-b");
    const onA = acquire(w.res, "lab", "org/dyn-a");
    const onB = acquire(w.res, "lab", "org/dyn-b");
    // Both busy: nothing says when room will come, so no number (not "about 10 s").
    expect(await ensureLive(w.res, "lab", "org/dyn-c")).toMatchObject({
      status: "queued",
      queuePosition: 1,
      etaSeconds: null,
    });
    await pass();
    expect(eta("org/dyn-c")).toBeNull();
    expect(deploymentOf(w, "org/dyn-c")?.stateReason).toBe("waiting for 2 free GPUs on a rotating node");

    // The operator drains dyn-a while its request runs: it lets go within drainTimeout (60 s).
    await drain(w.res, a.id, "drained by an operator");
    expect(eta("org/dyn-c")).toBe(70);
    w.clock.advance(45_000);
    await pass();
    expect(deploymentOf(w, "org/dyn-a")?.state).toBe("draining");
    expect(eta("org/dyn-c")).toBe(25); // the case: still waiting, and the number says so
    onA?.release(); // the last request ends: the drain finishes at the next pass
    expect(eta("org/dyn-c")).toBe(10);
    await pass();
    await pass();
    expect(availability(w.res, "lab", "org/dyn-c")).toMatchObject({ status: "starting", etaSeconds: 10 });
    onB?.release();
  });

  it("waits behind the deployments ahead of it in the queue", async () => {
    w = await unitWorld({ config: config() });
    await bringLive(w, "org/dyn-a");
    const busy = acquire(w.res, "lab", "org/dyn-a");
    // Two GPUs are free. dyn-b, first in the queue, takes them; dyn-c, second, has nowhere to go.
    expect(await ensureLive(w.res, "lab", "org/dyn-b")).toMatchObject({ queuePosition: 1, etaSeconds: 20 });
    w.clock.advance(1000);
    expect(await ensureLive(w.res, "lab", "org/dyn-c")).toMatchObject({ queuePosition: 2, etaSeconds: null });
    // Once dyn-a's request ends it may be evicted after busyWindow (30 s from that use).
    w.clock.advance(4000);
    busy?.release();
    expect(eta("org/dyn-c")).toBe(25 + 10);
    expect(eta("org/dyn-b")).toBe(20); // the one ahead is not held up by the one behind
    // A third waiter behind both: dyn-a's GPUs go to dyn-c first, so dyn-d has nothing to wait for.
    w.clock.advance(1000);
    expect(await ensureLive(w.res, "lab", "org/dyn-d")).toMatchObject({ queuePosition: 3, etaSeconds: null });
  });

  it("is unknown when only pinned deployments hold the node: they are never evicted", async () => {
    w = await unitWorld({ config: config() });
    await bringLive(w, "org/dyn-a");
    await bringLive(w, "org/dyn-b");
    await setPinned(w.res, "lab", "org/dyn-a", true);
    await setPinned(w.res, "lab", "org/dyn-b", true);
    w.clock.advance(60_000); // both long idle
    expect(await ensureLive(w.res, "lab", "org/dyn-c")).toMatchObject({ status: "queued", etaSeconds: null });
    await setPinned(w.res, "lab", "org/dyn-b", false);
    expect(eta("org/dyn-c")).toBe(10);
  });

  it("is unknown for a job waiting in Slurm's queue", async () => {
    w = await unitWorld({
      config: config(),
      capabilities: { serversSurviveRestart: true, launchReaches: "submitted" },
    });
    // Before the queue step runs there is room at once: its load time.
    expect(await ensureLive(w.res, "lab", "org/dyn-c")).toMatchObject({ etaSeconds: 10 });
    await pass(); // submitted: Slurm decides when it runs, and gives no estimated start
    expect(deploymentOf(w, "org/dyn-c")).toMatchObject({ state: "queued", stateReason: "submitted as fake job 100" });
    expect(availability(w.res, "lab", "org/dyn-c")).toMatchObject({ status: "queued", etaSeconds: null });
  });

  it("counts to Slurm's estimated start, which the jobs view shows, and is unknown again when Slurm drops it", async () => {
    w = await unitWorld({
      config: config(),
      capabilities: { serversSurviveRestart: true, launchReaches: "submitted" },
    });
    await ensureLive(w.res, "lab", "org/dyn-c");
    await pass(); // submitted
    const id = deploymentOf(w, "org/dyn-c")!.id;
    const start = new Date(w.clock.now() + 600_000);
    w.launcher.jobs.set(id, { ...w.launcher.jobs.get(id)!, estimatedStart: start });
    await observe(w.res, "lab", w.launcher, new Date(w.clock.now()));
    expect(deploymentOf(w, "org/dyn-c")).toMatchObject({
      state: "queued",
      stateReason: "waiting in Slurm: Resources",
      estimatedStartAt: start,
    });
    // Its wait in Slurm's queue, then its own load time.
    expect(eta("org/dyn-c")).toBe(610);
    w.clock.advance(60_000);
    expect(eta("org/dyn-c")).toBe(550);
    const cluster = w.config.clusters[0]!;
    const res = w.res;
    // What the views ask of the scheduler, from this world's resources.
    const scheduler = {
      availability: (c: string, m: string) => availability(res, c, m),
      modelOf: (r: DeploymentRecord) => res.catalog.ofRow(r.modelId)?.config,
      inflightOf: (deploymentId: string) => res.inFlight.of(deploymentId),
      now: () => res.now(),
      deployments: () => res.snapshot.all(),
      clusterProblem: (c: ClusterConfig) => res.snapshot.clusterProblem(c),
    } as unknown as Scheduler;
    const [job] = resourceJobsView(w.config, scheduler, cluster, { addresses: false }).queued;
    expect(job).toMatchObject({ estimated_start: start.toISOString(), "Estimated Start Time": start.toISOString() });
    // Slurm has no estimate any more (a held job: `N/A`): unknown, and the key is left out.
    w.launcher.jobs.set(id, {
      deploymentId: id,
      jobId: job!.launcher_job_id!,
      phase: "pending",
      reason: "JobHeldUser",
    });
    await observe(w.res, "lab", w.launcher, new Date(w.clock.now()));
    expect(eta("org/dyn-c")).toBeNull();
    const [held] = resourceJobsView(w.config, scheduler, cluster, { addresses: false }).queued;
    expect(held).toMatchObject({ estimated_start: null, reason: "waiting in Slurm: JobHeldUser" });
    expect(held).not.toHaveProperty("Estimated Start Time");
  });
});
