// Build the dashboard into dist/: `node scripts/build.mjs [--if-stale]`.
//
// With --if-stale (what `switchyard serve` and the browser tests run) nothing happens when
// dist/ was built from exactly the current sources: a hash of every input file is kept in
// dist/.build-hash. The build goes to a fresh directory that replaces dist/ whole, so a server
// serving the previous build never sees a half-written one.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const dist = path.join(root, "dist");
const stampFile = ".build-hash";
const inputs = ["index.html", "vite.config.ts", "package.json", "tsconfig.json", "scripts/build.mjs", "src", "public"];

function files(entry) {
  const full = path.join(root, entry);
  if (!existsSync(full)) return [];
  if (!statSync(full).isDirectory()) return [entry];
  return readdirSync(full)
    .sort()
    .flatMap((name) => files(path.join(entry, name)));
}

function sourceHash() {
  const hash = createHash("sha256");
  for (const file of inputs.flatMap(files)) {
    hash
      .update(file)
      .update("\0")
      .update(readFileSync(path.join(root, file)))
      .update("\0");
  }
  return hash.digest("hex");
}

// A production bundle whatever the caller's environment says (vitest sets NODE_ENV=test).
process.env.NODE_ENV = "production";
const hash = sourceHash();
const stamp = path.join(dist, stampFile);
if (process.argv.includes("--if-stale") && existsSync(stamp) && readFileSync(stamp, "utf8").trim() === hash) {
  console.log("dashboard: up to date");
  process.exit(0);
}

const started = Date.now();
const next = path.join(root, `dist-next-${process.pid}`);
const previous = path.join(root, `dist-previous-${process.pid}`);
const { build } = await import("vite");
try {
  await build({ root, configFile: path.join(root, "vite.config.ts"), logLevel: "warn", build: { outDir: next } });
  writeFileSync(path.join(next, stampFile), `${hash}\n`);
  if (existsSync(dist)) renameSync(dist, previous);
  renameSync(next, dist);
  rmSync(previous, { recursive: true, force: true });
} catch (error) {
  rmSync(next, { recursive: true, force: true });
  console.error(`dashboard: build failed: ${error?.message ?? error}`);
  process.exit(1);
}
console.log(`dashboard: built into ${path.relative(process.cwd(), dist) || "."} in ${Date.now() - started} ms`);
