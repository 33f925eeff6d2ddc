import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { ResolvedModel } from "@switchyard/core";
import { afterEach, describe, expect, it } from "vitest";
import { type LaunchedJob, LocalLauncher } from "../src";
import { quiet, SWITCHYARD_BIN, testConfig } from "./harness";

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const answers = (job: LaunchedJob, key?: string) =>
  fetch(`${job.baseUrl}/v1/models`, { headers: key ? { authorization: `Bearer ${key}` } : {} }).then(
    (res) => res.status,
    () => "refused" as const,
  );

describe("simulated models in one shared simulator host", () => {
  let launcher: LocalLauncher | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await launcher?.shutdown();
    if (dir) rmSync(dir, { recursive: true, force: true });
    launcher = undefined;
  });

  function setup() {
    dir = mkdtempSync(path.join(tmpdir(), "sy-sim-host-"));
    const config = testConfig("local", dir);
    launcher = new LocalLauncher({
      logDir: path.join(dir, "logs"),
      engines: { switchyardBin: SWITCHYARD_BIN, loadTimeScale: 1 },
      stopGraceMs: 2000,
      logger: quiet,
      sharedSimulator: true,
    });
    const base = config.models.find((m) => m.id === "org/dyn-a")!;
    const model = (id: string, args: string[] = []): ResolvedModel =>
      ({ ...base, id, engine: { ...base.engine, loadTime: 0, args } }) as ResolvedModel;
    const node = config.clusters[0]!.nodes.find((n) => n.role === "rotating")!;
    const launch = (id: string, m: ResolvedModel, serverKey: string | null) =>
      launcher!.launch({ deploymentId: id, model: m, cluster: "lab", node, gpus: 2, serverKey });
    let changes = 0;
    launcher.onChange(() => changes++);
    return { launcher, model, launch, changes: () => changes };
  }

  const phaseOf = async (l: LocalLauncher, id: string) => (await l.observe()).find((o) => o.deploymentId === id);

  it("serves each model on its own port with its own key, from one process", async () => {
    const { launch, model } = setup();
    const a = await launch("dep_a", model("org/a"), "key-a");
    const b = await launch("dep_b", model("org/b"), "key-b");
    expect(a.jobId).toBe(b.jobId);
    expect(a.baseUrl).not.toBe(b.baseUrl);
    await until("a up", async () => ((await answers(a, "key-a")) === 200 ? true : undefined));
    await until("b up", async () => ((await answers(b, "key-b")) === 200 ? true : undefined));
    expect(await answers(a)).toBe(401);
    expect(await answers(a, "key-b")).toBe(401);
    const listed = (await (
      await fetch(`${b.baseUrl}/v1/models`, { headers: { authorization: "Bearer key-b" } })
    ).json()) as { data: { id: string }[] };
    expect(listed.data.map((m) => m.id)).toEqual(["org/b"]);
  });

  it("a simulated crash ends that model alone, with the simulator's exit code; stop ends one and not the other", async () => {
    const { launcher: l, launch, model, changes } = setup();
    const crashy = await launch("dep_crashy", model("org/crashy", ["--crash-after", "800ms"]), null);
    const steady = await launch("dep_steady", model("org/steady"), null);
    const other = await launch("dep_other", model("org/other"), null);
    await until("steady up", async () => ((await answers(steady)) === 200 ? true : undefined));
    const crashed = await until("the crash seen", async () => {
      const seen = await phaseOf(l, "dep_crashy");
      return seen?.phase === "exited" ? seen : undefined;
    });
    expect(crashed.reason).toBe("the server exited (exit code 70)");
    expect(changes()).toBeGreaterThan(0);
    expect(await answers(crashy)).toBe("refused");
    expect(await phaseOf(l, "dep_steady")).toMatchObject({ phase: "running" });
    expect(await answers(steady)).toBe(200);
    expect(await l.tail("dep_crashy")).toMatch(/simulated crash/);

    await l.stop("dep_other", other.jobId);
    expect(await answers(other)).toBe("refused");
    expect(await answers(steady)).toBe(200);
    expect(alive(Number(steady.jobId))).toBe(true);
  });

  it("the host killed: each of its models ends with the host's signal, and the next launch starts a new host", async () => {
    const { launcher: l, launch, model } = setup();
    const a = await launch("dep_a", model("org/a"), null);
    const b = await launch("dep_b", model("org/b"), null);
    await until("a up", async () => ((await answers(a)) === 200 ? true : undefined));
    process.kill(Number(a.jobId), "SIGKILL");
    const ended = await until("both ended", async () => {
      const seen = (await l.observe()).filter((o) => o.phase === "exited");
      return seen.length === 2 ? seen : undefined;
    });
    expect(ended.map((o) => o.reason)).toEqual([
      "the server exited (killed by SIGKILL)",
      "the server exited (killed by SIGKILL)",
    ]);
    await l.stop("dep_a", a.jobId);
    await l.stop("dep_b", b.jobId);
    const again = await launch("dep_c", model("org/c"), null);
    expect(again.jobId).not.toBe(a.jobId);
    await until("c up in a new host", async () => ((await answers(again)) === 200 ? true : undefined));
    await l.shutdown();
    await until("the host gone at shutdown", () => (alive(Number(again.jobId)) ? undefined : true), 5000);
  });
});
