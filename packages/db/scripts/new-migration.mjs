// Author a migration: `pnpm --filter @switchyard/db migration:new add_audit_log`.
// Diffs the committed schema (git HEAD) against the working schema.prisma and writes
// prisma/migrations/<timestamp>_<name>/migration.sql. The first migration diffs from empty.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { prismaEnv } from "./prisma-env.mjs";

const name = process.argv[2];
if (!name || !/^[a-z0-9_]+$/.test(name)) {
  console.error("usage: migration:new NAME   (lowercase letters, digits and _)");
  process.exit(2);
}
const cwd = fileURLToPath(new URL("..", import.meta.url));
const migrations = path.join(cwd, "prisma", "migrations");
const hasMigrations = readdirSync(migrations).some((entry) => /^\d{14}_/.test(entry));

let from = ["--from-empty"];
if (hasMigrations) {
  const previous = execFileSync("git", ["show", "HEAD:./prisma/schema.prisma"], { cwd, encoding: "utf8" });
  const file = path.join(mkdtempSync(path.join(tmpdir(), "sy-schema-")), "schema.prisma");
  writeFileSync(file, previous);
  from = ["--from-schema-datamodel", file];
}
const diff = spawnSync(
  "prisma",
  ["migrate", "diff", ...from, "--to-schema-datamodel", "prisma/schema.prisma", "--script"],
  { cwd, env: { ...prismaEnv, PATH: `${cwd}node_modules/.bin:${process.env.PATH}` }, encoding: "utf8" },
);
if (diff.status !== 0) {
  process.stderr.write(diff.stderr);
  process.exit(diff.status ?? 1);
}
if (diff.stdout.includes("This is an empty migration")) {
  console.error("schema.prisma has no changes against git HEAD; nothing to write");
  process.exit(1);
}
const stamp = new Date().toISOString().replace(/[-:T]/g, "").slice(0, 14);
const dir = path.join(migrations, `${stamp}_${name}`);
mkdirSync(dir);
writeFileSync(path.join(dir, "migration.sql"), diff.stdout);
console.log(`wrote ${path.relative(cwd, dir)}/migration.sql; review it, then commit it with schema.prisma`);
