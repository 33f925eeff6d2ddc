import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/** Build the dashboard once before the browser tests, unless dist/ already matches the sources. */
export default function setup(): void {
  const script = fileURLToPath(new URL("../scripts/build.mjs", import.meta.url));
  const result = spawnSync(process.execPath, [script, "--if-stale"], { encoding: "utf8", timeout: 180_000 });
  if (result.status !== 0) throw new Error(`building the dashboard failed:\n${result.stdout}\n${result.stderr}`);
}
