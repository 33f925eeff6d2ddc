import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface WrkResult {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
}

function ms(value: string): number {
  const match = /^([\d.]+)(us|ms|s)$/.exec(value.trim());
  if (!match) return Number.NaN;
  const n = Number(match[1]);
  return match[2] === "us" ? n / 1000 : match[2] === "s" ? n * 1000 : n;
}

/** wrk at saturation (one thread, `connections`, POST with the given body and headers). */
export async function wrk(options: {
  url: string;
  body: string;
  headers: Record<string, string>;
  connections?: number;
  seconds?: number;
  dir: string;
}): Promise<WrkResult> {
  if (!/^http:\/\/127\.0\.0\.1:/.test(options.url)) throw new Error("benchmarks talk to 127.0.0.1 only");
  const script = path.join(options.dir, `wrk-${Math.random().toString(36).slice(2)}.lua`);
  const headers = Object.entries({ "content-type": "application/json", ...options.headers })
    .map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`)
    .join("\n");
  writeFileSync(
    script,
    `wrk.method = "POST"\nwrk.body = ${JSON.stringify(options.body)}\n${headers}\n` +
      `done = function(summary, latency, requests)\n` +
      `  io.write(string.format("SY %d %d %d\\n", summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, latency:percentile(50), latency:percentile(99)))\n` +
      `end\n`,
  );
  const { stdout } = await run(
    "wrk",
    ["-t1", `-c${options.connections ?? 32}`, `-d${options.seconds ?? 8}s`, "--latency", "-s", script, options.url],
    {
      timeout: 120_000,
    },
  );
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  const sy = /SY (\d+) (\d+) (\d+)/.exec(stdout);
  return {
    requestsPerSecond: rps ? Number(rps[1]) : Number.NaN,
    errors: sy ? Number(sy[1]) : Number.NaN,
    p50: sy ? Number(sy[2]) / 1000 : ms("NaN"),
    p99: sy ? Number(sy[3]) / 1000 : ms("NaN"),
  };
}
