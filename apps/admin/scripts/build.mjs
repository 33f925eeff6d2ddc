// Build the dashboard into dist/: `node scripts/build.mjs [--if-stale]`.
//
// With --if-stale (what `switchyard serve` and the browser tests run) nothing happens when
// dist/ was built from exactly the current sources: a hash of every input file is kept in
// dist/.build-hash. The build goes to a fresh directory that replaces dist/ whole, so a server
// serving the previous build never sees a half-written one; a lock file makes concurrent
// builders (serve and the browser tests, started together) take turns.
import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const dist = path.join(root, "dist");
const stampFile = ".build-hash";
const inputs = [
  "index.html",
  "vite.config.ts",
  "package.json",
  "tsconfig.json",
  "scripts/build.mjs",
  "src",
  "public",
  // Workspace packages bundled into the dashboard (the SDK's browser entry and what it imports).
  "../../packages/sdk/package.json",
  "../../packages/sdk/src",
  "../../packages/core/package.json",
  "../../packages/core/src",
];

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
const upToDate = () =>
  process.argv.includes("--if-stale") && existsSync(stamp) && readFileSync(stamp, "utf8").trim() === hash;
if (upToDate()) {
  console.log("dashboard: up to date");
  process.exit(0);
}

const lock = path.join(root, ".build.lock");
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === "EPERM";
  }
}
async function acquireLock() {
  const deadline = Date.now() + 5 * 60_000;
  while (Date.now() < deadline) {
    try {
      const fd = openSync(lock, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return;
    } catch (error) {
      if (error.code !== "EEXIST") throw error;
      const holder = Number(readFileSync(lock, "utf8") || 0);
      if (holder > 0 && !alive(holder))
        rmSync(lock, { force: true }); // left by a build that was killed
      else await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  throw new Error("another dashboard build has held the lock for 5 minutes");
}
await acquireLock();
process.on("exit", () => {
  if (existsSync(lock) && readFileSync(lock, "utf8") === String(process.pid)) rmSync(lock, { force: true });
});
if (upToDate()) {
  console.log("dashboard: up to date (built meanwhile by another process)");
  process.exit(0);
}
// Directories left by builds that were killed midway (a server stopped while building).
for (const entry of readdirSync(root)) {
  const match = /^dist-(?:next|previous)-(\d+)$/.exec(entry);
  if (match && !alive(Number(match[1]))) rmSync(path.join(root, entry), { recursive: true, force: true });
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
