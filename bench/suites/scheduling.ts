import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defaultConfigInput, SCHEDULING_POLICIES, validateConfig } from "@switchyard/core";
import { generateTrace, policyFor, type ReplayResult, replay } from "@switchyard/scheduler";
import { type Row, round, type Suite } from "../lib";

const DAY = 86_400_000;
const SEEDS = [1, 2, 3, 4];
const START = Date.UTC(2026, 0, 5);

/** Two ways to meet the day: with no history, and after a day the policies could learn from. */
const SCENARIOS = [
  { name: "1 day, no history", days: 1, warmupDays: 0 },
  { name: "day 2, after 1 day of history", days: 2, warmupDays: 1 },
];

interface Pooled {
  policy: string;
  scenario: string;
  requests: number;
  waited: number;
  waitedShare: number;
  meanWaitSeconds: number;
  p95WaitSeconds: number;
  maxWaitSeconds: number;
  loadsPerDay: number;
  prewarmsPerDay: number;
  evictionsPerDay: number;
  stopsNeededWithinHour: number;
  gpuHoursHeld: number;
  gpuHoursIdle: number;
  dynamicGpuHoursHeld: number;
  dynamicGpuHoursIdle: number;
}

/** Seeds pooled: shares over all requests, waits weighted by waiting requests, the rest averaged per day. */
function pool(policy: string, scenario: string, results: ReplayResult[]): Pooled {
  const n = results.length;
  const sum = (f: (r: ReplayResult) => number) => results.reduce((a, r) => a + f(r), 0);
  const requests = sum((r) => r.requests);
  const waited = sum((r) => r.waited);
  return {
    policy,
    scenario,
    requests,
    waited,
    waitedShare: round(waited / requests, 3),
    meanWaitSeconds: round(waited ? sum((r) => r.meanWaitSeconds * r.waited) / waited : 0, 0),
    p95WaitSeconds: round(sum((r) => r.p95WaitSeconds) / n, 0),
    maxWaitSeconds: Math.max(...results.map((r) => r.maxWaitSeconds)),
    loadsPerDay: round(sum((r) => r.loadsPerDay) / n, 1),
    prewarmsPerDay: round(sum((r) => r.prewarmsPerDay) / n, 1),
    evictionsPerDay: round(sum((r) => r.evictionsPerDay) / n, 1),
    stopsNeededWithinHour: round(sum((r) => r.stopsNeededWithinHour) / n, 1),
    gpuHoursHeld: round(sum((r) => r.gpuHoursHeld) / n, 0),
    gpuHoursIdle: round(sum((r) => r.gpuHoursIdle) / n, 0),
    dynamicGpuHoursHeld: round(sum((r) => r.dynamicGpuHoursHeld) / n, 0),
    dynamicGpuHoursIdle: round(sum((r) => r.dynamicGpuHoursIdle) / n, 0),
  };
}

function duration(seconds: number): string {
  if (seconds < 90) return `${seconds} s`;
  if (seconds < 5400) return `${round(seconds / 60, 1)} min`;
  return `${round(seconds / 3600, 1)} h`;
}

function markdown(pooled: Pooled[]): string {
  const lines = [
    "| scenario | policy | waited for a start | mean wait | p95 wait | max wait | loads/day (ahead of demand) | evictions/day | stops needed again < 1 h | GPU-h held (dynamic) | GPU-h idle (dynamic) |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...pooled.map(
      (p) =>
        `| ${p.scenario} | ${p.policy} | ${(p.waitedShare * 100).toFixed(1)} % (${p.waited} of ${p.requests}) | ${duration(p.meanWaitSeconds)} | ${duration(p.p95WaitSeconds)} | ${duration(p.maxWaitSeconds)} | ${p.loadsPerDay} (${p.prewarmsPerDay}) | ${p.evictionsPerDay} | ${p.stopsNeededWithinHour} | ${p.gpuHoursHeld} (${p.dynamicGpuHoursHeld}) | ${p.gpuHoursIdle} (${p.dynamicGpuHoursIdle}) |`,
    ),
  ];
  return lines.join("\n");
}

/**
 * Every policy replays the same seeded synthetic days on the built-in catalog (the reference's
 * cluster: 5 hot + 3 rotating nodes of 8 GPUs, its load times), side by side; the baseline is
 * `reference`. Also rewrites the policy table in docs/benchmarks.md (between the scheduling markers).
 */
export const scheduling: Suite = {
  name: "scheduling",
  description: `trace replay of seeded synthetic days (seeds ${SEEDS.join(", ")}) through every scheduling policy vs reference`,
  async run() {
    const parsed = validateConfig(defaultConfigInput());
    if (!parsed.ok) throw new Error("the built-in config does not validate");
    const config = parsed.config;
    const models = config.models.filter((m) => m.cluster === "sophia");
    const pooled: Pooled[] = [];
    const perSeed: Record<string, ReplayResult[]> = {};
    const started = performance.now();
    for (const scenario of SCENARIOS) {
      const traces = SEEDS.map((seed) => generateTrace(models, { seed, days: scenario.days, start: START }));
      for (const name of SCHEDULING_POLICIES) {
        const results = traces.map((trace) =>
          replay(config, trace, policyFor(name), { warmupMs: scenario.warmupDays * DAY }),
        );
        perSeed[`${scenario.name} / ${name}`] = results;
        pooled.push(pool(name, scenario.name, results));
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const rows: Row[] = [];
    for (const scenario of SCENARIOS) {
      const base = pooled.find((p) => p.scenario === scenario.name && p.policy === "reference") as Pooled;
      for (const p of pooled.filter((x) => x.scenario === scenario.name && x.policy !== "reference")) {
        const common = { suite: "scheduling", case: `${p.policy} (${scenario.name})`, baseline: "reference" };
        rows.push(
          {
            ...common,
            metric: "share of requests that waited for a start",
            unit: "share",
            value: p.waitedShare,
            baselineValue: base.waitedShare,
            ratio: round(p.waitedShare / base.waitedShare, 3),
            note: `seeds ${SEEDS.join(", ")}, ${p.requests} interactive requests`,
          },
          {
            ...common,
            metric: "p95 wait of those (s)",
            unit: "s",
            value: p.p95WaitSeconds,
            baselineValue: base.p95WaitSeconds,
            ratio: round(p.p95WaitSeconds / base.p95WaitSeconds, 4),
          },
          {
            ...common,
            metric: "GPU-hours held per day",
            unit: "GPU-h",
            value: p.gpuHoursHeld,
            baselineValue: base.gpuHoursHeld,
            ratio: round(p.gpuHoursHeld / base.gpuHoursHeld, 3),
            note: `idle ${p.gpuHoursIdle} vs ${base.gpuHoursIdle}`,
          },
        );
      }
    }
    rows.push({
      suite: "scheduling",
      case: "replay speed",
      baseline: "simulated time",
      metric: "simulated days per second",
      unit: "days/s",
      value: round(
        (SEEDS.length * SCENARIOS.reduce((a, s) => a + s.days, 0) * SCHEDULING_POLICIES.length) / seconds,
        1,
      ),
      baselineValue: 1,
      ratio: round(
        (SEEDS.length * SCENARIOS.reduce((a, s) => a + s.days, 0) * SCHEDULING_POLICIES.length) / seconds,
        1,
      ),
      note: `${round(seconds, 1)} s of wall time for every replay above`,
    });
    const docsFile = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "docs", "benchmarks.md");
    const begin = "<!-- scheduling:begin -->";
    const end = "<!-- scheduling:end -->";
    const docs = readFileSync(docsFile, "utf8");
    if (docs.includes(begin) && docs.includes(end)) {
      const body = `\n${markdown(pooled)}\n`;
      writeFileSync(docsFile, docs.slice(0, docs.indexOf(begin) + begin.length) + body + docs.slice(docs.indexOf(end)));
    }
    return { rows, details: { seeds: SEEDS, scenarios: SCENARIOS, pooled, perSeed } };
  },
};
