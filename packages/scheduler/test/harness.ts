import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ManualClock, type SwitchyardConfig, type SwitchyardConfigInput, validateConfig } from "@switchyard/core";
import { syncCatalog } from "@switchyard/db";
import { openTestDatabase, servicesRequired, type TestDatabase } from "@switchyard/db/testing";
import { pino } from "pino";
import { type Launcher, LocalLauncher, Scheduler, SlurmLauncher } from "../src";

/** The switchyard binary, which runs the simulator (`switchyard simulator ...`). Test-only path into apps/server. */
export const SWITCHYARD_BIN = fileURLToPath(new URL("../../../apps/server/bin/switchyard-source.mjs", import.meta.url));

export type LauncherKind = "local" | "slurm";

/** Whether a working Slurm answers here; with SWITCHYARD_REQUIRE_SERVICES=1 a missing one fails. */
export function slurmAvailable(): boolean {
  try {
    const state = execFileSync("sinfo", ["-h", "-o", "%t"], { encoding: "utf8", timeout: 10_000 }).trim();
    if (/idle|mix|alloc/.test(state)) return true;
    throw new Error(`sinfo says '${state}'`);
  } catch (error) {
    const message = `Slurm is not usable here (${(error as Error).message.split("\n")[0]}); run 'sudo ./scripts/slurm.sh'`;
    if (servicesRequired) throw new Error(`${message}; SWITCHYARD_REQUIRE_SERVICES=1 forbids skipping`);
    console.warn(`${message}: skipping the Slurm half`);
    return false;
  }
}

export function testConfig(
  kind: LauncherKind,
  stateDir: string,
  overrides: Partial<SwitchyardConfigInput> = {},
): SwitchyardConfig {
  const sim = (loadTime: string) => ({ type: "simulator" as const, loadTime, profile: "fast" as const });
  const result = validateConfig({
    scheduler: {
      tickInterval: "100ms",
      healthInterval: "200ms",
      healthFailures: 2,
      busyWindow: 0,
      minStartTimeout: "60s",
      stopGrace: "2s",
    },
    clusters: [
      {
        name: "lab",
        launcher: kind === "local" ? { type: "local" } : { type: "slurm", stateDir },
        nodes: [
          { name: "hot-1", gpus: 2, role: "hot" },
          { name: "rot-1", gpus: 4, role: "rotating" },
        ],
        frameworks: ["vllm"],
      },
    ],
    models: [
      {
        id: "org/hot",
        cluster: "lab",
        framework: "vllm",
        capabilities: ["chat", "completions"],
        placement: "hot",
        node: "hot-1",
        gpus: 1,
        engine: sim("300ms"),
      },
      {
        id: "org/dyn-a",
        cluster: "lab",
        framework: "vllm",
        capabilities: ["chat"],
        placement: "dynamic",
        gpus: 2,
        idleTtl: "2h",
        maxLifetime: "24h",
        engine: sim("300ms"),
      },
      {
        id: "org/dyn-b",
        cluster: "lab",
        framework: "vllm",
        capabilities: ["chat"],
        placement: "dynamic",
        gpus: 2,
        engine: sim("300ms"),
      },
      {
        id: "org/dyn-c",
        cluster: "lab",
        framework: "vllm",
        capabilities: ["chat"],
        placement: "dynamic",
        gpus: 2,
        engine: sim("300ms"),
      },
    ],
    ...overrides,
  });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.config;
}

/**
 * The test catalog's models as config input, with `changes` made to the model `id` (for
 * `startHarness` and `unitWorld` overrides, which replace the whole model list).
 */
export function modelsWith(id: string, changes: Record<string, unknown>): NonNullable<SwitchyardConfigInput["models"]> {
  return testConfig("local", "/nonexistent").models.map((model) => {
    const { expectedLoadTime, minReplicas, maxReplicas, replicaConcurrency, ...input } = model;
    return model.id === id ? { ...input, ...changes } : input;
  });
}

export interface Harness {
  scheduler: Scheduler;
  db: TestDatabase;
  config: SwitchyardConfig;
  clock: ManualClock;
  dir: string;
  launcher: Launcher;
  /** A new scheduler on the same database, as after a restart of the process. */
  restart(): Promise<Scheduler>;
  close(): Promise<void>;
}

export const quiet = pino({ level: process.env.SY_TEST_LOG ?? "silent" });

export function makeLauncher(kind: LauncherKind, config: SwitchyardConfig, dir: string): Launcher {
  const engines = { switchyardBin: SWITCHYARD_BIN, loadTimeScale: 1 };
  const cluster = config.clusters[0]!;
  if (kind === "local")
    return new LocalLauncher({ logDir: path.join(dir, "logs"), engines, stopGraceMs: 2000, logger: quiet });
  if (cluster.launcher.type !== "slurm") throw new Error("slurm config expected");
  return new SlurmLauncher({ stateDir: path.join(dir, "slurm"), config: cluster.launcher, engines, logger: quiet });
}

export async function startHarness(
  kind: LauncherKind,
  overrides: Partial<SwitchyardConfigInput> = {},
): Promise<Harness> {
  const dir = mkdtempSync(path.join(tmpdir(), `sy-sched-${kind}-`));
  const config = testConfig(kind, path.join(dir, "slurm"), overrides);
  const db = await openTestDatabase("pglite");
  await syncCatalog(db.prisma, config);
  const clock = new ManualClock(Date.now());
  const make = (launcher: Launcher) =>
    new Scheduler({
      db,
      config,
      clock,
      logger: quiet,
      launchers: new Map([["lab", launcher]]),
      engines: { switchyardBin: SWITCHYARD_BIN, loadTimeScale: 1 },
      autoTick: false,
    });
  let launcher = makeLauncher(kind, config, dir);
  let scheduler = make(launcher);
  await scheduler.start();
  const harness: Harness = {
    get scheduler() {
      return scheduler;
    },
    db,
    config,
    clock,
    dir,
    get launcher() {
      return launcher;
    },
    async restart() {
      launcher = makeLauncher(kind, config, dir);
      scheduler = make(launcher);
      await scheduler.start();
      return scheduler;
    },
    async close() {
      await scheduler.close();
      if (kind === "slurm") {
        // Slurm jobs outlive the scheduler by design; a test cleans up after itself.
        for (const job of await launcher.observe()) await launcher.stop(job.deploymentId, job.jobId).catch(() => {});
      }
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  } as Harness;
  return harness;
}

/**
 * Tick the scheduler until `check` holds (real time passes: processes start, Slurm schedules).
 * `advanceMs` also moves the fake clock each round, for what the scheduler times by it (health
 * check intervals, backoff).
 */
export async function until(
  h: Harness,
  check: () => boolean | Promise<boolean>,
  what: string,
  options: { timeoutMs?: number; advanceMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    if (options.advanceMs) h.clock.advance(options.advanceMs);
    await h.scheduler.tick();
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for: ${what}`);
}

/** The process serving a deployment (both launchers export SWITCHYARD_DEPLOYMENT_ID to it). */
export function serverPid(deploymentId: string): number | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (environ.includes(`SWITCHYARD_DEPLOYMENT_ID=${deploymentId}`) && cmdline.includes("simulator"))
        return Number(entry);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return undefined;
}

export async function transitions(h: Harness, deploymentId: string): Promise<string[]> {
  const rows = await h.db.prisma.deploymentTransition.findMany({ where: { deploymentId }, orderBy: { id: "asc" } });
  return rows.map((r) => `${r.fromState}->${r.toState}`);
}
