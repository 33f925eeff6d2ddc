import { afterAll, afterEach, describe, expect, it } from "vitest";
import { adopt, Leadership } from "../../src/leadership";
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
});
