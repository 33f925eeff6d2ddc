import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Row, Suite } from "./lib";
import { auth } from "./suites/auth";
import { batch } from "./suites/batch";
import { catalog } from "./suites/catalog";
import { coldStart } from "./suites/cold-start";
import { footprint } from "./suites/footprint";
import { gateway } from "./suites/gateway";
import { llama } from "./suites/llama";
import { replicas } from "./suites/replicas";
import { scheduling } from "./suites/scheduling";
import { soak } from "./suites/soak";
import { startup } from "./suites/startup";
import { validation } from "./suites/validation";

/**
 * `pnpm bench [suite...] [--option value...]`: runs each suite (every case beside its baseline,
 * same run, same machine), writes bench/results/<suite>.json and the Markdown table in
 * docs/benchmarks.md. Options are the suites' own (`--minutes 1` for soak).
 */
const SUITES: Suite[] = [
  validation,
  catalog,
  auth,
  coldStart,
  startup,
  gateway,
  batch,
  replicas,
  scheduling,
  llama,
  soak,
  footprint,
];

const here = path.dirname(fileURLToPath(import.meta.url));
const resultsDir = path.join(here, "results");
const docsFile = path.join(here, "..", "docs", "benchmarks.md");

function signed(difference: number | undefined): string {
  if (difference === undefined) return "";
  return difference > 0 ? `+${difference}` : String(difference);
}

function table(rows: Row[]): string {
  const lines = [
    "| suite | case | baseline | metric | case value | baseline value | ratio (case / baseline) | difference (case − baseline) | note |",
    "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | --- |",
    ...rows.map(
      (r) =>
        `| ${r.suite} | ${r.case} | ${r.baseline} | ${r.metric} | ${r.value} | ${r.baselineValue} | ${r.ratio ?? ""} | ${signed(r.difference)} | ${r.note ?? ""} |`,
    ),
  ];
  return lines.join("\n");
}

const args = process.argv.slice(2);
const wanted = args.filter((arg, i) => !arg.startsWith("--") && !args[i - 1]?.startsWith("--"));
const chosen =
  wanted.length > 0 ? SUITES.filter((s) => wanted.includes(s.name)) : SUITES.filter((s) => !s.onlyWhenNamed);
if (chosen.length === 0) {
  console.error(`unknown suite; choose from: ${SUITES.map((s) => s.name).join(", ")}`);
  process.exit(2);
}
mkdirSync(resultsDir, { recursive: true });
const machine = `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
const all: Row[] = [];
for (const suite of chosen) {
  process.stderr.write(`bench ${suite.name}: ${suite.description}\n`);
  const result = await suite.run();
  const { rows, details } = Array.isArray(result) ? { rows: result, details: undefined } : result;
  all.push(...rows);
  writeFileSync(
    path.join(resultsDir, `${suite.name}.json`),
    `${JSON.stringify({ suite: suite.name, description: suite.description, machine, date: new Date().toISOString(), rows, ...(details ? { details } : {}) }, null, 2)}\n`,
  );
}
const markdown = table(all);
console.log(markdown);

// docs/benchmarks.md's table is rebuilt from every suite's latest results file (the suites that
// did not run this time keep their last rows), so it never accumulates stale or duplicate lines.
const begin = "<!-- bench:begin -->";
const end = "<!-- bench:end -->";
interface SavedResults {
  suite: string;
  machine: string;
  date: string;
  rows: Row[];
}
const saved: SavedResults[] = [];
for (const suite of SUITES) {
  try {
    saved.push(JSON.parse(readFileSync(path.join(resultsDir, `${suite.name}.json`), "utf8")) as SavedResults);
  } catch {
    // never run on this checkout
  }
}
const runs = saved.map((r) => `${r.suite} ${r.date.slice(0, 10)}`).join(", ");
const machines = [...new Set(saved.map((r) => r.machine))].join("; ");
const body = `\n_Last runs: ${runs}; on ${machines}._\n\n${table(saved.flatMap((r) => r.rows))}\n`;
const docs = readFileSync(docsFile, "utf8");
writeFileSync(docsFile, docs.slice(0, docs.indexOf(begin) + begin.length) + body + docs.slice(docs.indexOf(end)));
