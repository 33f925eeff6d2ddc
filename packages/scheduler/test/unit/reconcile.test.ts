import { afterAll, afterEach, describe, expect, it } from "vitest";
import { checkHealth } from "../../src/reconcile/health";
import { ensureHotModels } from "../../src/reconcile/hot-models";
import { observe } from "../../src/reconcile/observe";
import { processQueue } from "../../src/reconcile/queue";
import { checkStarting } from "../../src/reconcile/readiness";
import { availability, ensureLive } from "../../src/routing/availability";
import { bringLive, closeSharedDatabase, deploymentOf, historyOf, type UnitWorld, unitWorld } from "./fakes";

const SUBMITS = { serversSurviveRestart: true, launchReaches: "submitted" } as const;

describe("a reconcile pass, step by step", () => {
  afterAll(closeSharedDatabase);
  let w: UnitWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });
  const now = () => new Date(w!.clock.now());
  const lab = () => w!.config.clusters[0]!;

  it("queue: places a queued model on a rotating node and launches it with its own server key", async () => {
    w = await unitWorld();
    await ensureLive(w.res, "lab", "org/dyn-a");
    await processQueue(w.res, lab(), now());
    const record = deploymentOf(w, "org/dyn-a")!;
    expect(record).toMatchObject({ state: "starting", nodeName: "rot-1", host: "127.0.0.1", jobId: "100" });
    expect(w.launcher.launched).toHaveLength(1);
    expect(w.launcher.launched[0]).toMatchObject({ deploymentId: record.id, gpus: 2, node: { name: "rot-1" } });
    expect(w.launcher.launched[0]!.serverKey).toBe(w.res.snapshot.serverKey(record.id));
    expect(await historyOf(w, record.id)).toEqual(["offline->queued: requested", "queued->starting: started on rot-1"]);
  });

  it("queue: a launcher that only submits leaves the deployment queued until observe sees the job run", async () => {
    w = await unitWorld({ capabilities: SUBMITS });
    await ensureLive(w.res, "lab", "org/dyn-a");
    await processQueue(w.res, lab(), now());
    const id = deploymentOf(w, "org/dyn-a")!.id;
    expect(deploymentOf(w, "org/dyn-a")).toMatchObject({ state: "queued", stateReason: "submitted as fake job 100" });

    await observe(w.res, "lab", w.launcher, now()); // pending
    expect(availability(w.res, "lab", "org/dyn-a")).toMatchObject({
      status: "queued",
      reason: "waiting in Slurm: Resources",
    });
    await processQueue(w.res, lab(), now()); // submitted once, never twice
    expect(w.launcher.launched).toHaveLength(1);

    w.launcher.run(id, "http://[fd00::7]:31000");
    await observe(w.res, "lab", w.launcher, now());
    expect(deploymentOf(w, "org/dyn-a")).toMatchObject({ state: "starting", host: "fd00::7", port: 31000 });
    w.ready.set("http://[fd00::7]:31000", true);
    await checkStarting(w.res, now());
    expect(availability(w.res, "lab", "org/dyn-a")).toMatchObject({
      status: "live",
      baseUrl: "http://[fd00::7]:31000",
    });
  });

  it("queue: a launch that throws fails the deployment with the reason", async () => {
    w = await unitWorld();
    w.launcher.failNext = new Error("no such engine");
    await ensureLive(w.res, "lab", "org/dyn-a");
    await processQueue(w.res, lab(), now());
    expect(availability(w.res, "lab", "org/dyn-a")).toMatchObject({
      status: "offline",
      reason: expect.stringMatching(/^could not launch: no such engine; last log lines:\n/),
    });
  });

  it("readiness: a server not ready within the start timeout fails, its log without addresses", async () => {
    w = await unitWorld();
    await ensureLive(w.res, "lab", "org/dyn-a");
    await processQueue(w.res, lab(), now());
    await checkStarting(w.res, now());
    expect(deploymentOf(w, "org/dyn-a")?.state).toBe("starting"); // not ready yet, not late
    w.clock.advance(61_000); // minStartTimeout is 60 s in these tests
    await checkStarting(w.res, now());
    const failed = deploymentOf(w, "org/dyn-a")!;
    expect(failed.state).toBe("failed");
    expect(failed.stateReason).toBe("not ready within 1m; last log lines:\nCUDA out of memory at <address>");
    expect(w.launcher.stopped).toEqual([failed.id]);
  });

  it("observe: a server that exits fails its deployment; a hot model comes back after its backoff", async () => {
    w = await unitWorld();
    await ensureHotModels(w.res);
    const first = await bringLive(w, "org/hot");
    expect(first.nodeName).toBe("hot-1");
    w.launcher.exit(first.id);
    await observe(w.res, "lab", w.launcher, now());
    expect(deploymentOf(w, "org/hot")).toMatchObject({
      state: "failed",
      stateReason: expect.stringMatching(/^the server exited/),
    });

    await ensureHotModels(w.res); // backoff: 1 s after the first failure
    expect(deploymentOf(w, "org/hot")?.id).toBe(first.id);
    w.clock.advance(1001);
    await ensureHotModels(w.res);
    const again = deploymentOf(w, "org/hot")!;
    expect(again.id).not.toBe(first.id);
    expect(await historyOf(w, again.id)).toEqual(["offline->queued: restarting a hot model (attempt 2)"]);
  });

  it("observe: an exit seen while the database cannot take the failure is recorded by a later pass, not lost", async () => {
    w = await unitWorld();
    const first = await bringLive(w, "org/dyn-a");
    w.launcher.exit(first.id);
    // The database goes away between reading the snapshot and writing the failure.
    const transition = w.res.store.transition.bind(w.res.store);
    w.res.store.transition = async () => {
      throw new Error("Connection terminated unexpectedly");
    };
    await expect(observe(w.res, "lab", w.launcher, now())).rejects.toThrow(/Connection terminated/);
    w.res.store.transition = transition;
    // Back: the next pass sees the same exit and records it (the launcher still knows the job).
    await observe(w.res, "lab", w.launcher, now());
    expect(deploymentOf(w, "org/dyn-a")).toMatchObject({
      id: first.id,
      state: "failed",
      stateReason: expect.stringMatching(/^the server exited/),
    });
    expect(w.launcher.stopped).toEqual([first.id]);
  });

  it("observe: a job Slurm requeued off a downed node fails with Slurm's reason; the hot model waits for nodes, no ETA", async () => {
    w = await unitWorld({ capabilities: SUBMITS });
    await ensureHotModels(w.res);
    await processQueue(w.res, lab(), now());
    const first = deploymentOf(w, "org/hot")!;
    w.launcher.run(first.id, "http://127.0.0.1:31001");
    await observe(w.res, "lab", w.launcher, now());
    w.ready.set("http://127.0.0.1:31001", true);
    await checkStarting(w.res, now());
    expect(deploymentOf(w, "org/hot")?.state).toBe("live");

    const down = "Slurm took the job off node vm and requeued it: vm down+drain (nd down test)";
    w.launcher.jobs.set(first.id, {
      deploymentId: first.id,
      jobId: first.jobId!,
      phase: "pending",
      lost: true,
      reason: down,
    });
    await observe(w.res, "lab", w.launcher, now());
    expect(deploymentOf(w, "org/hot")).toMatchObject({ state: "failed", stateReason: expect.stringContaining(down) });
    expect(w.launcher.stopped).toEqual([first.id]); // the requeued job is cancelled, not left to come back unseen
    expect(await historyOf(w, first.id)).toContain(`live->failed: ${deploymentOf(w, "org/hot")!.stateReason}`);

    w.clock.advance(1001); // the restart backoff
    await ensureHotModels(w.res);
    await processQueue(w.res, lab(), now());
    const again = deploymentOf(w, "org/hot")!;
    expect(again.id).not.toBe(first.id);
    const waiting = "nodes DOWN/DRAINED: vm down+drain (nd down test) (ReqNodeNotAvail)";
    w.launcher.jobs.set(again.id, { deploymentId: again.id, jobId: again.jobId!, phase: "pending", reason: waiting });
    await observe(w.res, "lab", w.launcher, now());
    expect(availability(w.res, "lab", "org/hot")).toMatchObject({
      status: "queued",
      reason: `waiting in Slurm: ${waiting}`,
      etaSeconds: null,
    });
  });

  it("observe: a job back in the queue after running is failed even when this process never saw it run (after a restart)", async () => {
    w = await unitWorld({ capabilities: SUBMITS });
    await ensureLive(w.res, "lab", "org/dyn-a");
    await processQueue(w.res, lab(), now());
    const id = deploymentOf(w, "org/dyn-a")!.id;
    w.launcher.run(id, "http://127.0.0.1:31002");
    await observe(w.res, "lab", w.launcher, now());
    expect(deploymentOf(w, "org/dyn-a")?.state).toBe("starting");
    w.launcher.jobs.set(id, { deploymentId: id, jobId: "100", phase: "pending", reason: "BeginTime" });
    await observe(w.res, "lab", w.launcher, now());
    expect(deploymentOf(w, "org/dyn-a")).toMatchObject({
      state: "failed",
      stateReason: expect.stringMatching(/^the Slurm job went back to the queue \(BeginTime\); its server is gone/),
    });
  });

  it("health: a live server that fails its checks twice in a row leaves traffic until it recovers", async () => {
    w = await unitWorld();
    const live = await bringLive(w, "org/dyn-a");
    const url = `http://${live.host}:${live.port}`;
    w.ready.set(url, false);
    await checkHealth(w.res, now());
    await checkHealth(w.res, now()); // within the 200 ms interval: not checked again
    expect(deploymentOf(w, "org/dyn-a")?.state).toBe("live");
    w.clock.advance(200);
    await checkHealth(w.res, now());
    expect(deploymentOf(w, "org/dyn-a")).toMatchObject({ state: "starting" });
    expect(availability(w.res, "lab", "org/dyn-a").baseUrl).toBeNull();
    w.ready.set(url, true);
    await checkStarting(w.res, now());
    expect(availability(w.res, "lab", "org/dyn-a")).toMatchObject({ status: "live", baseUrl: url });
    expect((await historyOf(w, live.id)).slice(-2)).toEqual([
      `live->starting: health check failed 2 times (GET ${url}/health: refused); traffic stopped until it recovers`,
      "starting->live: ready",
    ]);
  });
});
