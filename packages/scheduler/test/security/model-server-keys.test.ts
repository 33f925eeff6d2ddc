import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ManualClock } from "@switchyard/core";
import { syncCatalog } from "@switchyard/db";
import { openTestDatabase, type TestDatabase, testDrivers } from "@switchyard/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobsView, modelObject, Scheduler } from "../../src";
import {
  type Harness,
  type LauncherKind,
  makeLauncher,
  quiet,
  SWITCHYARD_BIN,
  serverPid,
  slurmAvailable,
  startHarness,
  testConfig,
  until,
} from "../harness";

/**
 * Model servers listen on their node's network (Slurm: 0.0.0.0), so anyone who finds one could
 * call a model their groups do not allow. Every deployment's server requires its own generated
 * key, which only Switchyard's gateway and batch worker (through `acquire`) send.
 */

const kinds: LauncherKind[] = slurmAvailable() ? ["local", "slurm"] : ["local"];

function chat(baseUrl: string, model: string, authorization?: string): Promise<Response> {
  return fetch(`${baseUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
    body: JSON.stringify({ model, max_tokens: 2, messages: [{ role: "user", content: "hi" }] }),
  });
}

/** What a gateway instance gets for a model: where its server is and the header to send. */
function replicaOf(scheduler: Scheduler, model: string): { baseUrl: string; authorization?: string } {
  const replica = scheduler.acquire("lab", model);
  if (!replica) throw new Error(`${model} has no live replica`);
  replica.release();
  return replica;
}

/** Every process's command line on this machine (what `ps` shows any user). */
function processListing(): string {
  const lines: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      lines.push(readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " "));
    } catch {
      // gone meanwhile
    }
  }
  return lines.join("\n");
}

/**
 * The service's environment holds its secrets; a model server (an engine, a model's own code)
 * must not inherit them. These stand for the service's secrets while the servers start.
 */
const SERVICE_SECRETS = {
  DATABASE_URL: "postgres://switchyard:db-secret@127.0.0.1/switchyard",
  SWITCHYARD_METRICS_TOKEN: "metrics-secret-token",
  SOME_SERVICE_PASSWORD: "unlisted-secret",
};

describe.each(kinds)("model servers started on the %s launcher", (kind) => {
  let h: Harness;
  const saved = Object.fromEntries(Object.keys(SERVICE_SECRETS).map((k) => [k, process.env[k]]));

  beforeAll(async () => {
    Object.assign(process.env, SERVICE_SECRETS, { HF_HOME: "/models/hf-cache" });
    h = await startHarness(kind);
    await h.scheduler.ensureLive("lab", "org/dyn-a");
    await until(
      h,
      () => ["org/hot", "org/dyn-a"].every((m) => h.scheduler.availability("lab", m).status === "live"),
      "org/hot and org/dyn-a live",
    );
  });
  afterAll(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    delete process.env.HF_HOME;
    await h?.close();
  });

  it("a model server's environment holds none of the service's secrets", () => {
    const id = h.scheduler.availability("lab", "org/hot").deploymentId!;
    const pid = serverPid(id);
    expect(pid, "org/hot's server runs here").toBeDefined();
    const environ = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
    for (const [name, value] of Object.entries(SERVICE_SECRETS)) {
      expect(
        environ.filter((e) => e.startsWith(`${name}=`) || e.includes(value)),
        name,
      ).toEqual([]);
    }
    // What engines need still gets through.
    expect(environ).toContain("HF_HOME=/models/hf-cache");
    expect(environ.some((e) => e.startsWith("PATH="))).toBe(true);
  });

  it("a model server started for a deployment refuses a request without its key", async () => {
    const replica = replicaOf(h.scheduler, "org/hot");
    expect(replica.authorization, "the gateway gets a key to send").toMatch(/^Bearer sy-server-/);
    expect((await chat(replica.baseUrl, "org/hot")).status).toBe(401);
    expect((await chat(replica.baseUrl, "org/hot", "Bearer guessed")).status).toBe(401);
    expect((await chat(replica.baseUrl, "org/hot", replica.authorization)).status).toBe(200);
  });

  it("a model server refuses the key of another deployment", async () => {
    const hot = replicaOf(h.scheduler, "org/hot");
    const dyn = replicaOf(h.scheduler, "org/dyn-a");
    expect(dyn.authorization).toBeDefined();
    expect(dyn.authorization).not.toBe(hot.authorization);
    expect((await chat(dyn.baseUrl, "org/dyn-a", hot.authorization)).status).toBe(401);
    expect((await chat(dyn.baseUrl, "org/dyn-a", dyn.authorization)).status).toBe(200);
  });

  it("a server's key shows in no process listing, log, jobs view or model list", async () => {
    const listing = processListing();
    const cluster = h.config.clusters[0]!;
    const views = JSON.stringify([
      jobsView(h.scheduler, cluster, { addresses: true }),
      h.config.models.map((m) => modelObject(h.scheduler, m, 0)),
    ]);
    for (const model of ["org/hot", "org/dyn-a"]) {
      const id = h.scheduler.availability("lab", model).deploymentId!;
      const record = h.scheduler.deployments().find((d) => d.id === id)!;
      const key = replicaOf(h.scheduler, model).authorization?.replace(/^Bearer /, "");
      expect(key, `${model}'s key`).toBeTruthy();
      expect(serverPid(id), `${model}'s server runs here`).toBeDefined();
      expect(listing).not.toContain(key);
      expect(readFileSync(record.logPath!, "utf8")).not.toContain(key);
      expect(views).not.toContain(key);
      expect(JSON.stringify(record)).not.toContain(key);
    }
  });

  it.runIf(kind === "slurm")(
    "a server's key is in no job script or Slurm job record, only in a 0600 file",
    async () => {
      const stateDir = path.join(h.dir, "slurm");
      for (const model of ["org/hot", "org/dyn-a"]) {
        const id = h.scheduler.availability("lab", model).deploymentId!;
        const record = h.scheduler.deployments().find((d) => d.id === id)!;
        const key = replicaOf(h.scheduler, model).authorization!.replace(/^Bearer /, "");
        const job = execFileSync("scontrol", ["show", "job", record.jobId!], { encoding: "utf8" });
        const queue = execFileSync("squeue", ["-h", "-o", "%all"], { encoding: "utf8" });
        expect(job).toContain(`JobName=sy-${id}`);
        expect(job).not.toContain(key);
        expect(queue).not.toContain(key);
        expect(readFileSync(path.join(stateDir, `${id}.sh`), "utf8")).not.toContain(key);
        const keyFile = path.join(stateDir, `${id}.key`);
        expect(readFileSync(keyFile, "utf8").trim()).toBe(key);
        expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      }
    },
  );
});

/** A real engine (llama.cpp through node-llama-cpp, a generated GGUF) reads the key from `LLAMA_API_KEY`. */
describe("a real llama.cpp server started on the local launcher", () => {
  let h: Harness;

  beforeAll(async () => {
    // The generated model is shared with the llama package's tests (same bytes, written once).
    process.env.SWITCHYARD_CACHE_DIR ??= path.join(tmpdir(), "switchyard-test-cache");
    h = await startHarness("local", {
      models: [
        {
          id: "org/tiny",
          cluster: "lab",
          framework: "vllm",
          capabilities: ["chat"],
          placement: "hot",
          node: "hot-1",
          engine: { type: "llama-cpp-node", weights: "generated:tiny-chat", threads: 1, parallel: 1 },
        },
      ],
    });
    await until(h, () => h.scheduler.availability("lab", "org/tiny").status === "live", "org/tiny live", {
      timeoutMs: 90_000,
    });
  }, 120_000);
  afterAll(() => h?.close());

  it("a llama.cpp server started for a deployment refuses a request without its key", async () => {
    const replica = replicaOf(h.scheduler, "org/tiny");
    expect(replica.authorization).toMatch(/^Bearer sy-server-/);
    expect((await chat(replica.baseUrl, "org/tiny")).status).toBe(401);
    expect((await chat(replica.baseUrl, "org/tiny", replica.authorization)).status).toBe(200);
    const listing = processListing();
    expect(listing).toContain("engine llama-cpp");
    expect(listing).not.toContain(replica.authorization!.replace(/^Bearer /, ""));
  });
});

const drivers = await testDrivers();

/**
 * Gateway instances and batch workers other than the leader never launched the server; they
 * read its key with the deployment, so they send the same one.
 */
describe.runIf(drivers.includes("postgres"))("a second instance on the same PostgreSQL", () => {
  let db: TestDatabase;
  let leader: Scheduler;
  let follower: Scheduler;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "sy-sched-keys-"));
    const config = testConfig("local", path.join(dir, "slurm"));
    db = await openTestDatabase("postgres");
    await syncCatalog(db.prisma, config);
    const clock = new ManualClock(Date.now());
    const engines = { switchyardBin: SWITCHYARD_BIN, loadTimeScale: 1 };
    const common = { db, config, clock, logger: quiet, engines, autoTick: false };
    leader = new Scheduler({ ...common, launchers: new Map([["lab", makeLauncher("local", config, dir)]]) });
    await leader.start();
    // A gateway instance: no launcher, and the leader holds the lock.
    follower = new Scheduler({ ...common, launchers: new Map() });
    await follower.start();
    expect([leader.isLeader, follower.isLeader]).toEqual([true, false]);
    const deadline = Date.now() + 30_000;
    while (leader.availability("lab", "org/hot").status !== "live") {
      if (Date.now() > deadline) throw new Error("org/hot did not become live");
      await leader.tick();
      await new Promise((r) => setTimeout(r, 100));
    }
    await follower.reload();
  });
  afterAll(async () => {
    await follower?.close();
    await leader?.close();
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a gateway instance that did not start the server sends the key it was started with", async () => {
    const fromFollower = replicaOf(follower, "org/hot");
    expect(fromFollower.authorization).toBeDefined();
    expect(fromFollower.authorization).toBe(replicaOf(leader, "org/hot").authorization);
    expect((await chat(fromFollower.baseUrl, "org/hot", fromFollower.authorization)).status).toBe(200);
  });
});
