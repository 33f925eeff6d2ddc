import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Row, Suite } from "./lib";
import { auth } from "./suites/auth";
import { batch } from "./suites/batch";
import { catalog } from "./suites/catalog";
import { coldStart } from "./suites/cold-start";
import { gateway } from "./suites/gateway";
import { validation } from "./suites/validation";

/**
 * `pnpm bench [suite...]`: runs each suite (every case beside its baseline, same run, same
 * machine), writes bench/results/<suite>.json and the Markdown table in docs/benchmarks.md.
 */
const SUITES: Suite[] = [validation, catalog, auth, coldStart, gateway, batch];

const here = path.dirname(fileURLToPath(import.meta.url));
const resultsDir = path.join(here, "results");
const docsFile = path.join(here, "..", "docs", "benchmarks.md");

function table(rows: Row[]): string {
  const lines = [
    "| suite | case | baseline | metric | case value | baseline value | ratio | note |",
    "| --- | --- | --- | --- | ---: | ---: | ---: | --- |",
    ...rows.map(
      (r) =>
        `| ${r.suite} | ${r.case} | ${r.baseline} | ${r.metric} | ${r.value} | ${r.baselineValue} | ${r.ratio} | ${r.note ?? ""} |`,
    ),
  ];
  return lines.join("\n");
}

const wanted = process.argv.slice(2);
const chosen = wanted.length > 0 ? SUITES.filter((s) => wanted.includes(s.name)) : SUITES;
if (chosen.length === 0) {
  console.error(`unknown suite; choose from: ${SUITES.map((s) => s.name).join(", ")}`);
  process.exit(2);
}
mkdirSync(resultsDir, { recursive: true });
const machine = `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
const all: Row[] = [];
for (const suite of chosen) {
  process.stderr.write(`bench ${suite.name}: ${suite.description}\n`);
  const rows = await suite.run();
  all.push(...rows);
  writeFileSync(
    path.join(resultsDir, `${suite.name}.json`),
    `${JSON.stringify({ suite: suite.name, description: suite.description, machine, date: new Date().toISOString(), rows }, null, 2)}\n`,
  );
}
const markdown = table(all);
console.log(markdown);

// Keep docs/benchmarks.md's table current for the suites that ran.
const begin = "<!-- bench:begin -->";
const end = "<!-- bench:end -->";
const docs = readFileSync(docsFile, "utf8");
const existing = docs.slice(docs.indexOf(begin) + begin.length, docs.indexOf(end));
const kept = existing
  .split("\n")
  .filter(
    (line) =>
      line.startsWith("| ") && !line.startsWith("| suite") && !chosen.some((s) => line.startsWith(`| ${s.name} |`)),
  );
const merged = [...kept, ...markdown.split("\n").slice(2)];
const body = `\n_Last run: ${new Date().toISOString().slice(0, 10)} on ${machine}._\n\n${markdown.split("\n").slice(0, 2).join("\n")}\n${merged.join("\n")}\n`;
writeFileSync(docsFile, docs.slice(0, docs.indexOf(begin) + begin.length) + body + docs.slice(docs.indexOf(end)));
