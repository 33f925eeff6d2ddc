import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { defaultConfigInput } from "@switchyard/core";
import { freePort } from "@switchyard/scheduler";
import { type Row, round, type Suite, type SuiteResult } from "../lib";
import { SWITCHYARD_BIN, stop, waitFor } from "../procs";

/** The targets for the embedded default, in MB of RSS. */
const TARGET_SERVE_MB = 250;
const TARGET_TREE_MB = 500;
const FIRST_SAMPLE_SECONDS = 30;

/** `--minutes N` (after `pnpm bench footprint`): the idle time of the second sample; 10 by default. */
function minutes(): number {
  const flag = process.argv.indexOf("--minutes");
  const value = flag >= 0 ? process.argv[flag + 1] : undefined;
  const parsed = value === undefined ? 10 : Number(value);
  if (!(parsed > 0)) throw new Error(`--minutes wants a positive number, not ${value}`);
  return parsed;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** `pid` and every process below it (from /proc's parent links), with their command lines. */
function processTree(root: number): { pid: number; command: string }[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // The command name may hold spaces and parentheses: the fields after the last ')' are fixed.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  const out: { pid: number; command: string }[] = [];
  const walk = (pid: number) => {
    let command = "";
    try {
      command = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).slice(1, 4).join(" ");
    } catch {
      return;
    }
    out.push({ pid, command });
    for (const child of children.get(pid) ?? []) walk(child);
  };
  walk(root);
  return out;
}

interface Sample {
  atSeconds: number;
  serveMb: number;
  treeMb: number;
  processes: number;
  /** Each process of the tree: RSS in MB and what it runs. */
  tree: { pid: number; rssMb: number; command: string }[];
}

function sample(pid: number, startedAt: number): Sample {
  const tree = processTree(pid).map((p) => ({ ...p, rssMb: round(rssMb(p.pid), 1) }));
  return {
    atSeconds: Math.round((performance.now() - startedAt) / 1000),
    serveMb: round(rssMb(pid), 1),
    treeMb: round(
      tree.reduce((sum, p) => sum + p.rssMb, 0),
      1,
    ),
    processes: tree.length,
    tree,
  };
}

interface Embedded {
  name: string;
  proc: ChildProcess;
  startedAt: number;
  dir: string;
}

/** `switchyard serve` on a fresh data dir with the built-in catalog (`shareProcess` as given). */
async function startEmbedded(name: string, shareProcess: boolean): Promise<Embedded> {
  const dir = mkdtempSync(path.join(tmpdir(), `sy-bench-footprint-${name}-`));
  const args = [SWITCHYARD_BIN, "serve", "--port", "0", "--data-dir", path.join(dir, "data")];
  if (!shareProcess) {
    // The built-in catalog as a file (JSON is YAML), with one process per simulated model.
    const config = defaultConfigInput();
    const file = path.join(dir, "switchyard.yaml");
    writeFileSync(file, JSON.stringify({ ...config, simulator: { ...config.simulator, shareProcess: false } }));
    args.push("--config", file);
  }
  const port = await freePort();
  args[3] = String(port);
  const log = openSync(path.join(dir, "serve.log"), "a");
  const startedAt = performance.now();
  const proc = spawn(process.execPath, args, {
    stdio: ["ignore", log, log],
    env: { ...process.env, SWITCHYARD_ADMIN_PASSWORD: "bench-admin-password" },
  });
  closeSync(log);
  const kill = () => proc.kill("SIGKILL");
  process.once("exit", kill);
  proc.once("exit", () => process.off("exit", kill));
  await waitFor(`http://127.0.0.1:${port}/health`);
  return { name, proc, startedAt, dir };
}

/** Hot models whose server is up (their deployment logs say the simulator is ready). */
function readyModels(dir: string): number {
  const logs = path.join(dir, "data", "logs");
  return readdirSync(logs).filter(
    (file) => file.startsWith("dep_") && readFileSync(path.join(logs, file), "utf8").includes("simulator ready"),
  ).length;
}

export const footprint: Suite = {
  name: "footprint",
  description:
    "the embedded default (serve, built-in catalog, fresh data dir): RSS of serve and of its whole process tree 30 s after start and after --minutes N idle (10 by default), the shared simulator host against one process per simulated model, and against the targets (serve 250 MB, all 500 MB)",
  onlyWhenNamed: true,
  async run(): Promise<SuiteResult> {
    const idleMinutes = minutes();
    const samples = new Map<string, Sample[]>();
    const at30 = async (e: Embedded) => {
      await sleep(Math.max(0, e.startedAt + FIRST_SAMPLE_SECONDS * 1000 - performance.now()));
      samples.set(e.name, [sample(e.proc.pid!, e.startedAt)]);
    };
    // One at a time up to its 30 s sample: the baseline's ten starting processes must not slow
    // the case's start-up on a 2-core machine (nor two first starts build the dashboard at once).
    const shared = await startEmbedded("shared", true);
    let separate: Embedded | undefined;
    try {
      await at30(shared);
      separate = await startEmbedded("separate", false);
      await at30(separate);
      // Process-per-model starts ten Node processes on the machine's cores: not all are up at 30 s.
      const readyAt30 = { shared: readyModels(shared.dir), separate: readyModels(separate.dir) };
      process.stderr.write(
        `  at 30 s: ${JSON.stringify([...samples].map(([k, v]) => [k, v[0]?.serveMb, v[0]?.treeMb]))}\n`,
      );
      process.stderr.write(`  idle for ${idleMinutes} min\n`);
      for (const e of [shared, separate]) {
        await sleep(Math.max(0, e.startedAt + idleMinutes * 60_000 - performance.now()));
        samples.get(e.name)?.push(sample(e.proc.pid!, e.startedAt));
      }
      const models = { shared: readyModels(shared.dir), separate: readyModels(separate.dir) };
      const [s30, sIdle] = samples.get("shared")!;
      const [b30, bIdle] = samples.get("separate")!;
      const caseName = `embedded default, shared simulator host (${models.shared} simulated models)`;
      const baseline = `one process per simulated model (${models.separate})`;
      const rows: Row[] = [];
      const at = (when: string, c: Sample, b: Sample, ready?: { shared: number; separate: number }) => {
        const up = ready ? `; simulated models up: ${ready.shared} against ${ready.separate}` : "";
        const base = { suite: "footprint", case: caseName, baseline };
        rows.push(
          {
            ...base,
            metric: `serve RSS ${when}`,
            unit: "MB",
            value: c.serveMb,
            baselineValue: b.serveMb,
            ratio: round(c.serveMb / b.serveMb),
          },
          {
            ...base,
            metric: `process tree RSS ${when}`,
            unit: "MB",
            value: c.treeMb,
            baselineValue: b.treeMb,
            ratio: round(c.treeMb / b.treeMb),
            note: `${c.processes} processes against ${b.processes}${up}`,
          },
          {
            suite: "footprint",
            case: caseName,
            baseline: "target",
            metric: `serve RSS ${when}`,
            unit: "MB",
            value: c.serveMb,
            baselineValue: TARGET_SERVE_MB,
            ratio: round(c.serveMb / TARGET_SERVE_MB),
            note: c.serveMb <= TARGET_SERVE_MB ? "within target" : "over target",
          },
          {
            suite: "footprint",
            case: caseName,
            baseline: "target",
            metric: `process tree RSS ${when}`,
            unit: "MB",
            value: c.treeMb,
            baselineValue: TARGET_TREE_MB,
            ratio: round(c.treeMb / TARGET_TREE_MB),
            note: c.treeMb <= TARGET_TREE_MB ? "within target" : "over target",
          },
        );
      };
      at(`at ${FIRST_SAMPLE_SECONDS} s`, s30!, b30!, readyAt30);
      at(`after ${idleMinutes} min idle`, sIdle!, bIdle!);
      return { rows, details: { idleMinutes, models, readyAt30, samples: Object.fromEntries(samples) } };
    } finally {
      const started = separate ? [shared, separate] : [shared];
      await Promise.all(started.map((e) => stop(e.proc)));
      for (const e of started) rmSync(e.dir, { recursive: true, force: true });
    }
  },
};
