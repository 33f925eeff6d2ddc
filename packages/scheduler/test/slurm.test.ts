import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SlurmLauncher } from "../src";
import { type Harness, quiet, SWITCHYARD_BIN, slurmAvailable, startHarness, testConfig, until } from "./harness";

const withSlurm = slurmAvailable();

function ourJobs(): { id: string; name: string; state: string }[] {
  const out = execFileSync("squeue", ["-h", "-o", "%i|%j|%T"], { encoding: "utf8" });
  return out
    .split("\n")
    .filter((line) => line.includes("|sy-"))
    .map((line) => {
      const [id, name, state] = line.split("|") as [string, string, string];
      return { id, name, state };
    });
}

describe.runIf(withSlurm)("Slurm specifics", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it("submits with the deployment id in the job name and comment, and GPUs as GRES", async () => {
    h = await startHarness("slurm");
    await until(h, () => h!.scheduler.availability("lab", "org/hot").status === "live", "hot live");
    const id = h.scheduler.availability("lab", "org/hot").deploymentId!;
    const record = h.scheduler.deployments().find((d) => d.id === id)!;
    const job = execFileSync("scontrol", ["show", "job", record.jobId!], { encoding: "utf8" });
    expect(job).toMatch(new RegExp(`JobName=sy-${id}`));
    expect(job).toMatch(new RegExp(`Comment=${id}`));
    expect(job).toMatch(/TresPerNode=(gres:)?gpu:1/);
  });

  it("a job cancelled behind the scheduler's back (scancel): the deployment fails with why, a hot model comes back", async () => {
    h = await startHarness("slurm");
    const live = () => h!.scheduler.availability("lab", "org/hot").status === "live";
    await until(h, live, "hot live");
    const id = h.scheduler.availability("lab", "org/hot").deploymentId!;
    const record = h.scheduler.deployments().find((d) => d.id === id)!;
    execFileSync("scancel", [record.jobId!]);
    await until(h, () => h!.scheduler.deployments().find((d) => d.id === id)?.state === "failed", "failed");
    expect(h.scheduler.deployments().find((d) => d.id === id)?.stateReason).toMatch(/CANCELLED|ended|cancel/i);
    await until(h, () => live() && h!.scheduler.availability("lab", "org/hot").deploymentId !== id, "restarted", {
      advanceMs: 500,
    });
    expect(ourJobs().filter((job) => job.name === `sy-${id}`)).toEqual([]);
  });

  it("runs a real engine as a Slurm job: llama.cpp on a generated model, live, answering with the deployment's key", async () => {
    h = await startHarness("slurm", {
      models: [
        {
          id: "llama/tiny-chat",
          cluster: "lab",
          framework: "vllm",
          capabilities: ["chat"],
          placement: "hot",
          node: "hot-1",
          gpus: 1,
          contextLength: 512,
          expectedLoadTime: "15s",
          engine: { type: "llama-cpp-node", weights: "generated:tiny-chat", parallel: 1, threads: 1 },
        },
      ],
    });
    const live = () => h!.scheduler.availability("lab", "llama/tiny-chat").status === "live";
    await until(h, live, "llama.cpp live as a Slurm job", { timeoutMs: 90_000 });
    const id = h.scheduler.availability("lab", "llama/tiny-chat").deploymentId!;
    expect(ourJobs().filter((job) => job.name === `sy-${id}`)).toEqual([expect.objectContaining({ state: "RUNNING" })]);
    const replica = h.scheduler.acquire("lab", "llama/tiny-chat")!;
    const ask = (authorization?: string) =>
      fetch(`${replica.baseUrl}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({ model: "llama/tiny-chat", messages: [{ role: "user", content: "hi" }], max_tokens: 4 }),
      });
    const answer = await ask(replica.authorization);
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ system_fingerprint: "llama.cpp", usage: { completion_tokens: 4 } });
    expect((await ask()).status).toBe(401); // the job's server wants its deployment's key
    replica.release();
  }, 120_000);

  it("shows Slurm's pending reason when the GPUs are used up", async () => {
    // Switchyard's own accounting allows 16 GPUs; the Slurm node has 8. The hot model takes one,
    // so of eight 1-GPU dynamic models one has to wait in Slurm's queue.
    const dynamic = Array.from({ length: 8 }, (_, i) => ({
      id: `org/small-${i}`,
      cluster: "lab",
      framework: "vllm",
      capabilities: ["chat" as const],
      placement: "dynamic" as const,
      gpus: 1,
      engine: { type: "simulator" as const, loadTime: "200ms", profile: "fast" as const },
    }));
    h = await startHarness("slurm", {
      clusters: [
        {
          name: "lab",
          launcher: { type: "slurm", stateDir: "unused" },
          nodes: [
            { name: "hot-1", gpus: 8, role: "hot" },
            { name: "rot-1", gpus: 8, role: "rotating" },
            { name: "rot-2", gpus: 8, role: "rotating" },
          ],
          frameworks: ["vllm"],
        },
      ],
      models: [
        {
          id: "org/hot",
          cluster: "lab",
          framework: "vllm",
          capabilities: ["chat"],
          placement: "hot",
          node: "hot-1",
          gpus: 1,
          engine: { type: "simulator", loadTime: "200ms", profile: "fast" },
        },
        ...dynamic,
      ],
    });
    await until(h, () => h!.scheduler.availability("lab", "org/hot").status === "live", "hot live");
    for (const model of dynamic) await h.scheduler.ensureLive("lab", model.id);
    const waiting = () =>
      dynamic.map((m) => h!.scheduler.availability("lab", m.id)).filter((a) => a.status === "queued");
    await until(
      h,
      () => {
        const live = dynamic.filter((m) => h!.scheduler.availability("lab", m.id).status === "live").length;
        return live === 7 && waiting().length === 1 && /waiting in Slurm: Resources/.test(waiting()[0]?.reason ?? "");
      },
      "seven live, one pending for Resources",
      { timeoutMs: 60_000 },
    );
    expect(waiting()[0]).toMatchObject({ queuePosition: 1, reason: "waiting in Slurm: Resources" });
    expect(ourJobs().filter((j) => j.state === "PENDING")).toHaveLength(1);
  });

  it("adopts its jobs after a restart, cancels orphans, never duplicates", async () => {
    h = await startHarness("slurm");
    await h.scheduler.ensureLive("lab", "org/dyn-a");
    await until(
      h,
      () => ["org/hot", "org/dyn-a"].every((m) => h!.scheduler.availability("lab", m).status === "live"),
      "both live",
    );
    const before = ["org/hot", "org/dyn-a"].map((m) => h!.scheduler.availability("lab", m).deploymentId);
    const jobsBefore = ourJobs()
      .filter((j) => j.state === "RUNNING")
      .map((j) => j.id)
      .sort();
    expect(jobsBefore).toHaveLength(2);

    // The scheduler goes away (its Slurm jobs keep running); meanwhile a stray job appears in
    // its state directory (one a crashed submission left, say).
    await h.scheduler.close();
    const stray = path.join(h.dir, "stray.sh");
    writeFileSync(stray, "#!/bin/bash\nsleep 300\n");
    const strayId = execFileSync(
      "sbatch",
      [
        "--parsable",
        "--job-name=sy-dep_stray",
        "--comment=dep_stray",
        `--output=${h.dir}/stray.log`,
        `--chdir=${path.join(h.dir, "slurm")}`,
        stray,
      ],
      {
        encoding: "utf8",
      },
    ).trim();

    const again = await h.restart();
    await until(
      h,
      () => !ourJobs().some((j) => j.id === strayId && ["RUNNING", "PENDING"].includes(j.state)),
      "the stray job cancelled",
    );
    await again.tick();
    const after = ["org/hot", "org/dyn-a"].map((m) => again.availability("lab", m));
    expect(after.map((a) => a.status)).toEqual(["live", "live"]);
    expect(after.map((a) => a.deploymentId)).toEqual(before);
    const jobsAfter = ourJobs()
      .filter((j) => j.state === "RUNNING")
      .map((j) => j.id)
      .sort();
    expect(jobsAfter).toEqual(jobsBefore);
    expect(await h.db.prisma.deployment.count()).toBe(2);
  });

  it("a node set down: the deployment fails with Slurm's reason, the restarted hot model waits for the node, then is live again", async () => {
    h = await startHarness("slurm");
    await until(h, () => h!.scheduler.availability("lab", "org/hot").status === "live", "hot live");
    const first = h.scheduler.availability("lab", "org/hot").deploymentId!;
    const node = execFileSync("squeue", ["-h", "-o", "%N", "-n", `sy-${first}`], { encoding: "utf8" }).trim();
    expect(node).not.toBe("");
    const scontrol = (...args: string[]) => execFileSync("scontrol", ["update", `nodename=${node}`, ...args]);
    try {
      // Drained first, so the node stays down (ReturnToService would bring a plain `down` back at once).
      scontrol("state=drain", "reason=sy-test disk swap");
      scontrol("state=down", "reason=sy-test disk swap");
      await until(
        h,
        () => h!.scheduler.deployments().find((d) => d.id === first)?.state === "failed",
        "the deployment on the downed node failed",
      );
      const failed = h.scheduler.deployments().find((d) => d.id === first)!;
      expect(failed.stateReason).toMatch(
        new RegExp(
          `^Slurm took the job off node ${node} and requeued it: ${node} \\S*(down|drain)\\S* \\(sy-test disk swap\\)`,
        ),
      );
      // Its requeued job is cancelled, not left to come back behind the scheduler's back.
      await until(
        h,
        () => !ourJobs().some((j) => j.name === `sy-${first}` && ["RUNNING", "PENDING"].includes(j.state)),
        "requeued job cancelled",
      );
      await until(
        h,
        () => /waiting in Slurm: nodes DOWN\/DRAINED/.test(h!.scheduler.availability("lab", "org/hot").reason ?? ""),
        "the restarted hot model waits for the node",
        { advanceMs: 500 }, // past the restart backoff on the harness's manual clock
      );
      const waiting = h.scheduler.availability("lab", "org/hot");
      expect(waiting).toMatchObject({ status: "queued", etaSeconds: null });
      expect(waiting.reason).toContain(`${node}`);
      expect(waiting.reason).toContain("sy-test disk swap");
    } finally {
      try {
        scontrol("state=resume");
      } catch {
        // Already back (nothing to resume): fine.
      }
    }
    await until(h, () => h!.scheduler.availability("lab", "org/hot").status === "live", "hot live again", {
      timeoutMs: 60_000,
    });
    expect(h.scheduler.availability("lab", "org/hot").deploymentId).not.toBe(first);
  });

  it("reads Slurm's estimated start of a pending job", async () => {
    // Slurm jobs outlive the schedulers of earlier tests: on a busy node Slurm would answer
    // "Resources" (and a later estimate) instead of the begin time asked for.
    for (const job of ourJobs()) execFileSync("scancel", [job.id]);
    for (let waited = 0; ourJobs().length > 0; waited += 100) {
      if (waited > 15_000) throw new Error(`jobs still in the queue: ${JSON.stringify(ourJobs())}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const dir = mkdtempSync(path.join(tmpdir(), "sy-sched-start-"));
    const config = testConfig("slurm", path.join(dir, "slurm"), {
      clusters: [
        {
          name: "lab",
          // A job Slurm may start only in an hour: its estimated start is then.
          launcher: { type: "slurm", stateDir: "unused", sbatchArgs: ["--begin=now+3600"] },
          nodes: [{ name: "rot-1", gpus: 4, role: "rotating" }],
          frameworks: ["vllm"],
        },
      ],
      models: [
        {
          id: "org/late",
          cluster: "lab",
          framework: "vllm",
          capabilities: ["chat"],
          placement: "dynamic",
          gpus: 1,
          engine: { type: "simulator", loadTime: "200ms", profile: "fast" },
        },
      ],
    });
    const cluster = config.clusters[0]!;
    if (cluster.launcher.type !== "slurm") throw new Error("slurm config expected");
    const launcher = new SlurmLauncher({
      stateDir: path.join(dir, "slurm"),
      config: cluster.launcher,
      engines: { switchyardBin: SWITCHYARD_BIN, loadTimeScale: 1 },
      logger: quiet,
    });
    const submittedAt = Date.now();
    const job = await launcher.launch({
      deploymentId: "dep_late",
      model: config.models[0]!,
      cluster: "lab",
      node: cluster.nodes[0]!,
      gpus: 1,
      serverKey: null,
    });
    try {
      const seen = (await launcher.observe()).find((o) => o.deploymentId === "dep_late");
      expect(seen).toMatchObject({ jobId: job.jobId, phase: "pending", reason: "BeginTime" });
      const start = seen?.estimatedStart?.getTime() ?? 0;
      expect(Math.abs(start - (submittedAt + 3_600_000))).toBeLessThan(60_000);
    } finally {
      await launcher.stop("dep_late", job.jobId);
    }
  });
});
