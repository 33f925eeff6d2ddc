import { createReadStream } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import {
  formatDuration,
  parseDuration,
  SCHEDULING_POLICIES,
  type SchedulingPolicyName,
  type SwitchyardConfig,
  type TraceRequest,
  TraceRequestSchema,
} from "@switchyard/core";
import { type Command, InvalidArgumentError } from "commander";
import { CliError, type CliIO, EXIT } from "../cli-io";
import { loadConfig, readConfigFile } from "../config";
import { configOption, dataDirOption, resolveDataDir } from "./options";

const DAY = 86_400_000;

function duration(value: string): number {
  const seconds = parseDuration(value);
  if (seconds === undefined || seconds <= 0) throw new InvalidArgumentError("a duration such as 7d, 36h or 90m");
  return seconds * 1000;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1) throw new InvalidArgumentError("a positive integer");
  return n;
}

function seed(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 2 ** 32 - 1) throw new InvalidArgumentError("an integer from 0 to 4294967295");
  return n;
}

/** `all`, one policy, or a comma list. */
export function parsePolicies(value: string): SchedulingPolicyName[] {
  if (value === "all") return [...SCHEDULING_POLICIES];
  const names = value.split(",").map((s) => s.trim());
  for (const name of names) {
    if (!(SCHEDULING_POLICIES as readonly string[]).includes(name))
      throw new InvalidArgumentError(`unknown policy '${name}'; choose from ${SCHEDULING_POLICIES.join(", ")} or all`);
  }
  return names as SchedulingPolicyName[];
}

async function writeTrace(trace: readonly TraceRequest[], out: string | undefined, io: CliIO): Promise<void> {
  const text = trace.map((r) => JSON.stringify(r)).join("\n") + (trace.length ? "\n" : "");
  if (out) {
    await writeFile(path.resolve(out), text);
    io.err(`wrote ${trace.length} requests to ${path.resolve(out)}\n`);
  } else io.out(text);
}

/** Read a JSONL trace, every line checked; bad lines are named (the first ten). */
export async function readTrace(file: string): Promise<TraceRequest[]> {
  const source = path.resolve(file);
  const stream = createReadStream(source, "utf8");
  const opened = new Promise<void>((resolve, reject) => {
    stream.once("open", () => resolve());
    stream.once("error", reject);
  });
  try {
    await opened;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(
      `cannot read the trace ${source}: ${code === "ENOENT" ? "no such file" : String(code ?? error)}`,
    );
  }
  const trace: TraceRequest[] = [];
  const problems: string[] = [];
  let line = 0;
  for await (const text of createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })) {
    line++;
    if (text.trim() === "") continue;
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      problems.push(`  ${source}:${line}: not JSON`);
      continue;
    }
    const parsed = TraceRequestSchema.safeParse(data);
    if (parsed.success) trace.push(parsed.data);
    else {
      const issue = parsed.error.issues[0];
      problems.push(`  ${source}:${line}: ${issue?.path.join(".") || "(line)"}: ${issue?.message ?? "invalid"}`);
    }
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 10).join("\n");
    const more = problems.length > 10 ? `\n  ... and ${problems.length - 10} more` : "";
    throw new CliError(
      `invalid trace (${problems.length} bad line${problems.length === 1 ? "" : "s"}):\n${shown}${more}`,
    );
  }
  return trace;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)} %`;
}

function secs(s: number): string {
  return s === 0 ? "0s" : formatDuration(s);
}

export function registerTrace(program: Command, io: CliIO): void {
  const trace = program
    .command("trace")
    .description("export, generate and replay demand traces to compare scheduling policies (docs/scheduler.md)");

  trace
    .command("export")
    .description(
      "the demand this platform saw, one JSON line per request (no content), from usage rows and transitions",
    )
    .option("--since <duration>", "how far back", duration, 7 * DAY)
    .option("--out <file>", "write here instead of stdout")
    .addOption(dataDirOption())
    .action(async (flags: { since: number; out?: string; dataDir: string }) => {
      const { databaseOptions, openDatabase } = await import("@switchyard/db");
      const { exportTrace } = await import("@switchyard/scheduler");
      const db = await openDatabase(
        databaseOptions({
          dataDir: resolveDataDir(flags.dataDir),
          databaseUrl: io.env.DATABASE_URL,
          command: "switchyard trace export",
        }),
      );
      try {
        const until = new Date();
        const rows = await exportTrace(db, new Date(until.getTime() - flags.since), until);
        await writeTrace(rows, flags.out, io);
      } finally {
        await db.close();
      }
    });

  trace
    .command("generate")
    .description("a synthetic, seeded trace over a catalog: Zipf-like popularity, a daily cycle, sessions and batches")
    .option("--models <source>", "'catalog' (the built-in one) or a config file whose models to use", "catalog")
    .option("--cluster <name>", "only this cluster's models (default: the config's default cluster)")
    .option("--days <n>", "how many days", positiveInt, 1)
    .option("--seed <n>", "the seed: the same seed gives the same trace", seed, 1)
    .option("--start <date>", "the first day (UTC, YYYY-MM-DD)", "2026-01-05")
    .option("--hot-bias <x>", "how well the hot set matches demand, 0 (blind guess) to 1 (the most popular)")
    .option("--out <file>", "write here instead of stdout")
    .action(
      async (flags: {
        models: string;
        cluster?: string;
        days: number;
        seed: number;
        start: string;
        hotBias?: string;
        out?: string;
      }) => {
        const { generateTrace, replayCluster } = await import("@switchyard/scheduler");
        const { config } =
          flags.models === "catalog" ? await loadConfig(undefined, {}) : await readConfigFile(flags.models);
        const start = Date.parse(`${flags.start}T00:00:00Z`);
        if (!/^\d{4}-\d{2}-\d{2}$/.test(flags.start) || Number.isNaN(start))
          throw new CliError("--start: a date such as 2026-01-05", EXIT.usage);
        const hotBias = flags.hotBias === undefined ? undefined : Number(flags.hotBias);
        if (hotBias !== undefined && !(hotBias >= 0 && hotBias <= 1))
          throw new CliError("--hot-bias: a number from 0 to 1", EXIT.usage);
        const cluster = clusterOf(config, flags.cluster, replayCluster);
        const models = config.models.filter((m) => m.cluster === cluster);
        if (models.length === 0) throw new CliError(`cluster '${cluster}' has no models`);
        const rows = generateTrace(models, {
          seed: flags.seed,
          days: flags.days,
          start,
          ...(hotBias === undefined ? {} : { hotBias }),
        });
        await writeTrace(rows, flags.out, io);
      },
    );

  trace
    .command("replay")
    .description("replay a trace through scheduling policies on a simulated clock and compare what users would wait")
    .requiredOption("--trace <file>", "a JSONL trace (from export or generate)")
    .option("--policy <names>", `${SCHEDULING_POLICIES.join(", ")}, a comma list, or all`, parsePolicies, [
      ...SCHEDULING_POLICIES,
    ])
    .addOption(configOption())
    .option("--cluster <name>", "the cluster to replay on (default: the config's default cluster)")
    .option("--warmup <duration>", "replay this much of the trace first without counting it (policies learn from it)")
    .option("--json", "print the figures as JSON")
    .action(
      async (flags: {
        trace: string;
        policy: SchedulingPolicyName[];
        config?: string;
        cluster?: string;
        warmup?: string;
        json?: boolean;
      }) => {
        const { policyFor, replay, replayCluster } = await import("@switchyard/scheduler");
        const { config, source } = await loadConfig(flags.config, io.env);
        const warmupMs = flags.warmup === undefined ? 0 : duration(flags.warmup);
        const cluster = clusterOf(config, flags.cluster, replayCluster);
        const requests = await readTrace(flags.trace);
        if (requests.length === 0) throw new CliError("the trace has no requests");
        const results = flags.policy.map((name) => replay(config, requests, policyFor(name), { cluster, warmupMs }));
        if (flags.json) {
          io.out(`${JSON.stringify({ trace: path.resolve(flags.trace), config: source, results }, null, 2)}\n`);
          return;
        }
        io.out(
          `${requests.length} requests replayed on ${cluster} (${source}), ${results[0]?.days ?? 0} days measured\n\n`,
        );
        const rows: [string, (r: (typeof results)[number]) => string][] = [
          ["interactive requests", (r) => String(r.requests)],
          ["found their model live", (r) => pct(r.foundLive)],
          ["waited for a start", (r) => `${r.waited} (${pct(r.waitedShare)})`],
          ["mean wait of those", (r) => secs(r.meanWaitSeconds)],
          ["p95 wait of those", (r) => secs(r.p95WaitSeconds)],
          ["max wait", (r) => secs(r.maxWaitSeconds)],
          ["batch lines that waited", (r) => `${pct(r.batchWaitedShare)} of ${r.batchLines}`],
          ["loads per day", (r) => String(r.loadsPerDay)],
          ["  of them ahead of demand", (r) => String(r.prewarmsPerDay)],
          ["evictions per day", (r) => String(r.evictionsPerDay)],
          ["stops needed again within 1 h", (r) => String(r.stopsNeededWithinHour)],
          ["GPU-hours held (dynamic)", (r) => `${r.gpuHoursHeld} (${r.dynamicGpuHoursHeld})`],
          ["GPU-hours idle (dynamic)", (r) => `${r.gpuHoursIdle} (${r.dynamicGpuHoursIdle})`],
        ];
        const width = Math.max(...rows.map(([label]) => label.length));
        const cols = results.map((r) => Math.max(r.policy.length, ...rows.map(([, f]) => f(r).length)));
        io.out(`${"".padEnd(width)}  ${results.map((r, i) => r.policy.padStart(cols[i] ?? 0)).join("  ")}\n`);
        for (const [label, f] of rows)
          io.out(`${label.padEnd(width)}  ${results.map((r, i) => f(r).padStart(cols[i] ?? 0)).join("  ")}\n`);
        const unknown = results[0]?.unknownModels ?? 0;
        if (unknown > 0) io.err(`note: ${unknown} requests named models this cluster does not serve; left out\n`);
      },
    );
}

function clusterOf(
  config: SwitchyardConfig,
  name: string | undefined,
  replayCluster: (config: SwitchyardConfig, name?: string) => { name: string },
): string {
  try {
    return replayCluster(config, name).name;
  } catch (error) {
    throw new CliError((error as Error).message);
  }
}
