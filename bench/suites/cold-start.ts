import { execFile, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type SwitchyardConfig, systemClock, validateConfig } from "@switchyard/core";
import { openDatabase, syncCatalog } from "@switchyard/db";
import { freePort, type Launcher, LocalLauncher, Scheduler, SlurmLauncher } from "@switchyard/scheduler";
import { pino } from "pino";
import { type Row, round, type Suite } from "../lib";

const execFileAsync = promisify(execFile);
const BIN = fileURLToPath(new URL("../../apps/server/bin/switchyard.mjs", import.meta.url));
const MODEL = "bench/cold-2s";
const LOAD = "2s";
const quiet = pino({ level: "silent" });

/** Time until the first streamed token of a chat request, from `start`. */
async function firstToken(baseUrl: string, authorization?: string): Promise<number> {
  const res = await fetch(`${baseUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
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

/**
 * Wait until Slurm has let go of a cancelled job (it sits in COMPLETING, holding its GPU, for a
 * moment): otherwise the next run's job waits for the GPU and the run after a cancel is the
 * slow one, whichever way it was started.
 */
async function jobGone(jobId: string): Promise<void> {
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    let out: string;
    try {
      out = execFileSync("squeue", ["-h", "-j", jobId, "-o", "%T"], { encoding: "utf8", stdio: "pipe" }).trim();
    } catch {
      return; // purged from Slurm's memory already ("Invalid job id")
    }
    if (out === "") return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * When Slurm first reports a job of ours RUNNING (squeue every 20 ms, from `since`): Slurm's
 * own scheduling latency varies from tens of milliseconds to seconds on this machine (more
 * right after another job ended), and the target is about what the scheduler adds beyond it.
 */
function watchSlurmStart(namePrefix: string, since: number): { waited(): number; stop(): void } {
  let runningAt: number | undefined;
  let stopped = false;
  void (async () => {
    while (!stopped && runningAt === undefined) {
      try {
        const { stdout } = await execFileAsync("squeue", ["-h", "-o", "%j|%T"], { encoding: "utf8" });
        if (stdout.split("\n").some((l) => l.startsWith(namePrefix) && l.endsWith("|RUNNING"))) {
          runningAt = performance.now();
        }
      } catch {
        // squeue hiccup: try again
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    waited: () => (runningAt ?? since) - since,
    stop: () => {
      stopped = true;
    },
  };
}

/** The simulator submitted to Slurm by hand (sbatch --wrap), polled the same way. */
async function directSlurm(dir: string): Promise<SlurmRun> {
  const port = await freePort();
  const start = performance.now();
  const watch = watchSlurmStart("bench-direct", start);
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
    return { total: (await firstToken(`http://127.0.0.1:${port}`)) - start, slurmWait: watch.waited() };
  } finally {
    watch.stop();
    execFileSync("scancel", [job]);
    await jobGone(job);
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
async function viaScheduler(kind: "local" | "slurm"): Promise<SlurmRun> {
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
  let watch: ReturnType<typeof watchSlurmStart> | undefined;
  try {
    const start = performance.now();
    if (kind === "slurm") watch = watchSlurmStart("sy-", start);
    await scheduler.ensureLive("bench", MODEL);
    let replica = scheduler.acquire("bench", MODEL);
    while (!replica) {
      if (performance.now() - start > 60_000) throw new Error("not live within 60 s");
      await new Promise((r) => setTimeout(r, 5));
      replica = scheduler.acquire("bench", MODEL);
    }
    const at = await firstToken(replica.baseUrl, replica.authorization);
    replica.release();
    return { total: at - start, slurmWait: watch?.waited() ?? 0 };
  } finally {
    watch?.stop();
    await scheduler.close();
    if (kind === "slurm")
      for (const job of await launcher.observe()) {
        await launcher.stop(job.deploymentId, job.jobId).catch(() => {});
        await jobGone(job.jobId);
      }
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface SlurmRun {
  /** From the request (or sbatch) to the first token. */
  total: number;
  /** Of which Slurm kept the job from running (0 for local processes). */
  slurmWait: number;
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
      const direct: SlurmRun[] = [];
      const scheduled: SlurmRun[] = [];
      for (let i = 0; i < 3; i++) {
        direct.push(kind === "local" ? { total: await directLocal(), slurmWait: 0 } : await directSlurm(dir));
        // Slurm starts a job late right after another one ended; give both paths the same pause.
        if (kind === "slurm") await new Promise((r) => setTimeout(r, 3000));
        scheduled.push(await viaScheduler(kind));
        if (kind === "slurm") await new Promise((r) => setTimeout(r, 3000));
      }
      rmSync(dir, { recursive: true, force: true });
      // Slurm's own queue time is not the scheduler's: compare what comes after it.
      const d = median(direct.map((r) => r.total - r.slurmWait));
      const s = median(scheduled.map((r) => r.total - r.slurmWait));
      const runs = (list: SlurmRun[]) =>
        list
          .map((r) => (kind === "slurm" ? `${round(r.total, 0)} (Slurm ${round(r.slurmWait, 0)})` : round(r.total, 0)))
          .join(", ");
      rows.push({
        suite: "cold-start",
        case:
          kind === "slurm"
            ? "first token via the scheduler (slurm), from the job starting"
            : "first token via the scheduler (local)",
        baseline: kind === "local" ? "simulator started by hand" : "simulator submitted with sbatch by hand",
        metric: "ms",
        unit: "ms",
        value: round(s, 0),
        baselineValue: round(d, 0),
        ratio: round(s / d, 3),
        note: `scheduler adds ${round(s - d, 0)} ms (target < 300); runs: ${runs(scheduled)} vs ${runs(direct)}`,
      });
    }
    return rows;
  },
};
