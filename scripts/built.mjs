#!/usr/bin/env node
// `pnpm switchyard ...` and `pnpm sy ...` from a clone: build what the command needs through
// turbo (a cache hit, well under a second, when nothing changed), then run the built command in
// this process. Turbo's output goes to stderr and only when the build fails, so that
// `pnpm sy models --json | jq` sees the command's output alone.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const COMMANDS = {
  // The server and the SDK's tarball, which it offers at /clients/sdk.tgz.
  switchyard: { filters: ["@switchyard/server", "@switchyard/sdk"], bin: "../apps/server/bin/switchyard.mjs" },
  sy: { filters: ["@switchyard/sdk"], bin: "../packages/sdk/bin/sy.mjs" },
};
const [name = "", ...args] = process.argv.slice(2);
const command = COMMANDS[name];
if (!command) {
  process.stderr.write(`usage: node scripts/built.mjs ${Object.keys(COMMANDS).join("|")} [arguments]\n`);
  process.exit(1);
}
const root = fileURLToPath(new URL("..", import.meta.url));
const turbo = fileURLToPath(new URL("../node_modules/.bin/turbo", import.meta.url));
const filters = command.filters.map((filter) => `--filter=${filter}`);
// Asynchronous, so that the note below shows while a long (first) build runs.
const slow = setTimeout(
  () => process.stderr.write(`${name}: building (turbo run build; the first time takes a minute or two)...\n`),
  2000,
);
const build = await new Promise((resolve) => {
  const proc = spawn(turbo, ["run", "build", ...filters, "--output-logs=errors-only"], {
    cwd: root,
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: "1", TURBO_NO_UPDATE_NOTIFIER: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  proc.stdout.on("data", (d) => (output += d));
  proc.stderr.on("data", (d) => (output += d));
  proc.once("error", (error) => resolve({ status: 1, output: `${output}${error.message}\n` }));
  proc.once("close", (status) => resolve({ status, output }));
});
clearTimeout(slow);
if (build.status !== 0) {
  process.stderr.write(build.output);
  process.stderr.write(`${name}: the build failed (turbo run build ${filters.join(" ")})\n`);
  process.exit(1);
}
const bin = fileURLToPath(new URL(command.bin, import.meta.url));
process.argv = [process.argv[0] ?? process.execPath, bin, ...args];
await import(bin);
