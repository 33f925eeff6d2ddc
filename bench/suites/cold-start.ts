import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type SwitchyardConfig, systemClock, validateConfig } from "@switchyard/core";
import { openDatabase, syncCatalog } from "@switchyard/db";
import { freePort, type Launcher, LocalLauncher, Scheduler, SlurmLauncher } from "@switchyard/scheduler";
import { pino } from "pino";
import { type Row, round, type Suite } from "../lib";

const BIN = fileURLToPath(new URL("../../apps/server/bin/switchyard.mjs", import.meta.url));
const MODEL = "bench/cold-2s";
const LOAD = "2s";
const quiet = pino({ level: "silent" });

/** Time until the first streamed token of a chat request, from `start`. */
async function firstToken(baseUrl: string): Promise<number> {
  const res = await fetch(`${baseUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: MODEL, stream: true, max_tokens: 4, messages: [{ role: "user", content: "hi" }] }),
  });
  if (!res.ok || !res.body) throw new Error(`chat failed: ${res.status}`);
  const reader = res.body.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error("stream ended before a token");
    if (new TextDecoder().decode(value).includes('"content"')) break;
  }
  await reader.cancel();
  return performance.now();
}

async function waitHealthy(baseUrl: string, deadline: number): Promise<void> {
  while (performance.now() < deadline) {
    try {
      if ((await fetch(`${baseUrl}/health`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${baseUrl} not healthy in time`);
}

const simulatorArgs = (port: number | string) => [
  BIN,
  "simulator",
  "--model",
  MODEL,
  "--host",
  "0.0.0.0",
  "--port",
  String(port),
  "--load-time",
  LOAD,
  "--profile",
  "fast",
  "--log-level",
  "silent",
];

/** The simulator started by hand: spawn, poll /health every 10 ms, first token. */
async function directLocal(): Promise<number> {
  const port = await freePort();
  const start = performance.now();
  const child = spawn(process.execPath, simulatorArgs(port), { stdio: "ignore" });
  try {
    await waitHealthy(`http://127.0.0.1:${port}`, start + 30_000);
    return (await firstToken(`http://127.0.0.1:${port}`)) - start;
  } finally {
    child.kill("SIGKILL");
  }
}

/** The simulator submitted to Slurm by hand (sbatch --wrap), polled the same way. */
async function directSlurm(dir: string): Promise<number> {
  const port = await freePort();
  const start = performance.now();
  const wrap = [process.execPath, ...simulatorArgs(port)].map((a) => `'${a}'`).join(" ");
  const job = execFileSync(
    "sbatch",
    ["--parsable", "--job-name=bench-direct", "--gres=gpu:1", `--output=${dir}/direct.log`, "--wrap", wrap],
    {
      encoding: "utf8",
    },
  ).trim();
  try {
    await waitHealthy(`http://127.0.0.1:${port}`, start + 60_000);
    return (await firstToken(`http://127.0.0.1:${port}`)) - start;
  } finally {
    execFileSync("scancel", [job]);
  }
}

function config(kind: "local" | "slurm", dir: string): SwitchyardConfig {
  const result = validateConfig({
    clusters: [
      {
        name: "bench",
        launcher: kind === "local" ? { type: "local" } : { type: "slurm", stateDir: path.join(dir, "slurm") },
        nodes: [{ name: "rot-1", gpus: 8, role: "rotating" }],
        frameworks: ["vllm"],
      },
    ],
    models: [
      {
        id: MODEL,
        cluster: "bench",
        framework: "vllm",
        capabilities: ["chat"],
        placement: "dynamic",
        gpus: 1,
        engine: { type: "simulator", loadTime: LOAD, profile: "fast" },
      },
    ],
  });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.config;
}

/** Through the scheduler: ensureLive on a cold model, wait for live, first token. */
async function viaScheduler(kind: "local" | "slurm"): Promise<number> {
  const dir = mkdtempSync(path.join(tmpdir(), `sy-bench-cold-${kind}-`));
  const cfg = config(kind, dir);
  const db = await openDatabase({ driver: "pglite" });
  await db.migrate();
  await syncCatalog(db.prisma, cfg);
  const engines = { switchyardBin: BIN, loadTimeScale: 1 };
  const launcher: Launcher =
    kind === "local"
      ? new LocalLauncher({ logDir: path.join(dir, "logs"), engines, stopGraceMs: 2000, logger: quiet })
      : new SlurmLauncher({
          stateDir: path.join(dir, "slurm"),
          config: cfg.clusters[0]!.launcher as never,
          engines,
          logger: quiet,
        });
  const scheduler = new Scheduler({
    db,
    config: cfg,
    clock: systemClock,
    logger: quiet,
    launchers: new Map([["bench", launcher]]),
    engines,
  });
  await scheduler.start();
  try {
    const start = performance.now();
    await scheduler.ensureLive("bench", MODEL);
    let replica = scheduler.acquire("bench", MODEL);
    while (!replica) {
      if (performance.now() - start > 60_000) throw new Error("not live within 60 s");
      await new Promise((r) => setTimeout(r, 5));
      replica = scheduler.acquire("bench", MODEL);
    }
    const at = await firstToken(replica.baseUrl);
    replica.release();
    return at - start;
  } finally {
    await scheduler.close();
    if (kind === "slurm")
      for (const job of await launcher.observe()) await launcher.stop(job.deploymentId, job.jobId).catch(() => {});
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function slurmUsable(): boolean {
  try {
    return /idle|mix/.test(execFileSync("sinfo", ["-h", "-o", "%t"], { encoding: "utf8" }));
  } catch {
    return false;
  }
}

/**
 * Cold start: from the first request for an offline model to its first token, through the
 * scheduler, next to the simulator (2 s load time) started by hand the same way; the
 * difference is what scheduling adds. Three runs each, medians.
 */
export const coldStart: Suite = {
  name: "cold-start",
  description:
    "cold model (simulator, 2 s load) to first token: via the scheduler vs the simulator started by hand; local and Slurm",
  async run() {
    const rows: Row[] = [];
    const kinds: ("local" | "slurm")[] = ["local", ...(slurmUsable() ? (["slurm"] as const) : [])];
    for (const kind of kinds) {
      const dir = mkdtempSync(path.join(tmpdir(), "sy-bench-direct-"));
      writeFileSync(path.join(dir, ".keep"), "");
      const direct: number[] = [];
      const scheduled: number[] = [];
      for (let i = 0; i < 3; i++) {
        direct.push(kind === "local" ? await directLocal() : await directSlurm(dir));
        scheduled.push(await viaScheduler(kind));
      }
      rmSync(dir, { recursive: true, force: true });
      const d = median(direct);
      const s = median(scheduled);
      rows.push({
        suite: "cold-start",
        case: `first token via the scheduler (${kind})`,
        baseline: kind === "local" ? "simulator started by hand" : "simulator submitted with sbatch by hand",
        metric: "ms",
        unit: "ms",
        value: round(s, 0),
        baselineValue: round(d, 0),
        ratio: round(s / d, 3),
        note: `scheduler adds ${round(s - d, 0)} ms (target < 300); runs: ${scheduled.map((v) => round(v, 0)).join(", ")} vs ${direct.map((v) => round(v, 0)).join(", ")}`,
      });
    }
    return rows;
  },
};
