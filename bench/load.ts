import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const AUTOCANNON = require.resolve("autocannon/autocannon.js");

export interface LoadResult {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

/**
 * Load from a separate process (autocannon), so the generator never shares the measured
 * server's event loop. Bounded by duration; talks only to the given (loopback) URL.
 */
export function loadTest(options: {
  url: string;
  connections?: number;
  durationSeconds?: number;
  /** Fixed request rate (requests per second over all connections); saturation when omitted. */
  rate?: number;
  headers?: Record<string, string>;
  method?: string;
  body?: string;
}): Promise<LoadResult> {
  if (!/^http:\/\/(127\.0\.0\.1|localhost)[:/]/.test(options.url)) throw new Error("benchmarks talk to 127.0.0.1 only");
  const args = [
    AUTOCANNON,
    "--json",
    "-c",
    String(options.connections ?? 16),
    "-d",
    String(options.durationSeconds ?? 5),
  ];
  if (options.rate) args.push("-R", String(options.rate));
  for (const [name, value] of Object.entries(options.headers ?? {})) args.push("-H", `${name}=${value}`);
  if (options.method) args.push("-m", options.method);
  if (options.body) args.push("-b", options.body);
  args.push(options.url);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`autocannon failed (${code}): ${err}`));
      const result = JSON.parse(out) as {
        requests: { average: number };
        latency: { p50: number; p99: number };
        errors: number;
        non2xx: number;
      };
      resolve({
        requestsPerSecond: result.requests.average,
        p50: result.latency.p50,
        p99: result.latency.p99,
        errors: result.errors,
        non2xx: result.non2xx,
      });
    });
  });
}

export interface PacedResult {
  sent: number;
  ok: number;
  errors: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

const PACED = fileURLToPath(new URL("baselines/paced.mjs", import.meta.url));

/**
 * Open-loop load at an even rate from a separate process (baselines/paced.mjs): latency counts
 * from when each request was due, so stalls land in the tail. Use this for "what does a hop
 * add at N req/s"; autocannon's -R sends each second's quota in a burst.
 */
export function pacedLoad(options: {
  url: string;
  rate: number;
  seconds: number;
  headers?: Record<string, string>;
  method?: string;
  body?: string;
}): Promise<PacedResult> {
  if (!/^http:\/\/(127\.0\.0\.1|localhost)[:/]/.test(options.url)) throw new Error("benchmarks talk to 127.0.0.1 only");
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PACED, JSON.stringify(options)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`paced load failed (${code}): ${err}`));
      resolve(JSON.parse(out) as PacedResult);
    });
  });
}
