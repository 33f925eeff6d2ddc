import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { type Row, round, type Suite } from "../lib";

/**
 * How fast the commands start, built (dist/, what ships) next to source (src/ through tsx, what
 * `pnpm switchyard` and `pnpm sy` ran before the build): `sy --version`, `sy models` against a
 * local server, and `serve` to its first `/health` on an existing data dir. Runs alternate
 * between the two forms; each row is the median.
 */
const bin = (file: string) => fileURLToPath(new URL(`../../${file}`, import.meta.url));
const FORMS = {
  sy: { built: bin("packages/sdk/bin/sy.mjs"), source: bin("packages/sdk/bin/sy-source.mjs") },
  switchyard: { built: bin("apps/server/bin/switchyard.mjs"), source: bin("apps/server/bin/switchyard-source.mjs") },
};
const PASSWORD = "bench-startup-password";
const TARGETS = { version: 150, models: 400, serve: 2000 };

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Wall time of one command from spawn to exit, in ms; throws on a non-zero exit. */
function timed(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const proc = spawn(process.execPath, args, { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    proc.stderr.on("data", (d) => (stderr += d));
    proc.once("error", reject);
    proc.once("exit", (code) =>
      code === 0 ? resolve(performance.now() - start) : reject(new Error(`${args.join(" ")}: exit ${code}: ${stderr}`)),
    );
  });
}

/** `serve` on `dataDir` and `port`: resolves with ms from spawn to the first 200 from /health, and the process. */
async function serveToHealth(
  binPath: string,
  dataDir: string,
  port: number,
  env: NodeJS.ProcessEnv,
): Promise<{ ms: number; proc: ChildProcess }> {
  const start = performance.now();
  const proc = spawn(process.execPath, [binPath, "serve", "--port", String(port), "--data-dir", dataDir], {
    env,
    stdio: ["ignore", "ignore", "ignore"],
  });
  const deadline = start + 60_000;
  while (performance.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`serve exited with ${proc.exitCode}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).status === 200)
        return { ms: performance.now() - start, proc };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  proc.kill("SIGKILL");
  throw new Error("serve did not answer /health within 60 s");
}

function stop(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null) return resolve();
    proc.once("exit", () => resolve());
    proc.kill("SIGTERM");
    setTimeout(() => proc.kill("SIGKILL"), 10_000).unref();
  });
}

function row(name: string, metricCase: string, built: number[], source: number[], target: number, extra = ""): Row {
  const b = median(built);
  const s = median(source);
  const met = b < target ? "met" : "missed";
  return {
    suite: "startup",
    case: `${metricCase}, built (dist/)`,
    baseline: `${metricCase}, source (tsx)`,
    metric: `${name} median, ms`,
    unit: "ms",
    value: round(b, 0),
    baselineValue: round(s, 0),
    difference: round(b - s, 0),
    note: `target < ${target} ms built: ${met}; ${built.length} runs each: ${built.map((v) => round(v, 0)).join(", ")} vs ${source.map((v) => round(v, 0)).join(", ")}${extra}`,
  };
}

export const startup: Suite = {
  name: "startup",
  description: "sy --version, sy models against a local serve, serve to /health: built (dist/) vs source (tsx)",
  async run() {
    const home = mkdtempSync(path.join(tmpdir(), "sy-bench-startup-"));
    const dataDir = path.join(home, "data");
    const env = {
      PATH: process.env.PATH,
      HOME: home,
      SWITCHYARD_ADMIN_PASSWORD: PASSWORD,
      SWITCHYARD_LOG_LEVEL: "warn",
    };
    const port = 18000 + Math.floor(Math.random() * 2000);
    const rows: Row[] = [];
    try {
      // sy --version
      const version = { built: [] as number[], source: [] as number[] };
      const nodeAlone: number[] = [];
      for (let i = 0; i < 15; i++) {
        version.built.push(await timed([FORMS.sy.built, "--version"], env));
        version.source.push(await timed([FORMS.sy.source, "--version"], env));
        nodeAlone.push(await timed(["-e", "0"], env));
      }
      rows.push(
        row(
          "sy --version",
          "sy --version",
          version.built,
          version.source,
          TARGETS.version,
          `; node -e 0 alone: ${round(median(nodeAlone), 0)} ms`,
        ),
      );

      // serve to /health on an existing data dir: the first start creates it (migrations, the admin).
      const first = await serveToHealth(FORMS.switchyard.built, dataDir, port, env);
      const grant = await fetch(`http://127.0.0.1:${port}/auth/token`, {
        method: "POST",
        body: new URLSearchParams({ grant_type: "password", username: "admin", password: PASSWORD }),
      });
      const { access_token: token } = (await grant.json()) as { access_token: string };

      // sy models against that server (the built-in catalog), as a script would call it.
      const models = { built: [] as number[], source: [] as number[] };
      const syEnv = { ...env, SWITCHYARD_URL: `http://127.0.0.1:${port}`, SWITCHYARD_API_KEY: token };
      await timed([FORMS.sy.built, "models", "--json"], syEnv);
      for (let i = 0; i < 10; i++) {
        models.built.push(await timed([FORMS.sy.built, "models", "--json"], syEnv));
        models.source.push(await timed([FORMS.sy.source, "models", "--json"], syEnv));
      }
      rows.push(row("sy models", "sy models --json", models.built, models.source, TARGETS.models));
      await stop(first.proc);

      const serve = { built: [] as number[], source: [] as number[] };
      for (let i = 0; i < 3; i++) {
        for (const form of ["built", "source"] as const) {
          const started = await serveToHealth(FORMS.switchyard[form], dataDir, port, env);
          serve[form].push(started.ms);
          await stop(started.proc);
        }
      }
      rows.push(
        row(
          "serve to /health",
          "switchyard serve (built-in catalog, existing data dir)",
          serve.built,
          serve.source,
          TARGETS.serve,
        ),
      );
      return rows;
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  },
};
