import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const SWITCHYARD_BIN = fileURLToPath(new URL("../apps/server/bin/switchyard.mjs", import.meta.url));
export const NODE_PROXY = fileURLToPath(new URL("baselines/node-proxy.mjs", import.meta.url));
export const PORTKEY = fileURLToPath(
  new URL("node_modules/@portkey-ai/gateway/build/start-server.js", import.meta.url),
);

/** A child process that is killed when the benchmark ends, whatever happens. */
export function child(command: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const proc = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...env } });
  const kill = () => proc.kill("SIGKILL");
  process.once("exit", kill);
  proc.once("exit", () => process.off("exit", kill));
  return proc;
}

/** `switchyard simulator` serving `model` on `port`, silent, with extra flags (`--profile fast`, ...). */
export function simulatorProcess(model: string, port: number, flags: string[]): ChildProcess {
  return child(process.execPath, [
    SWITCHYARD_BIN,
    "simulator",
    "--model",
    model,
    "--port",
    String(port),
    ...flags,
    "--log-level",
    "silent",
  ]);
}

export async function waitFor(url: string, init: RequestInit = {}, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, init);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer in time`);
}

export function stop(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null) return resolve();
    proc.once("exit", () => resolve());
    proc.kill("SIGTERM");
    setTimeout(() => proc.kill("SIGKILL"), 5000).unref();
  });
}

/** nginx as a plain reverse proxy with a keep-alive upstream: the floor for proxy overhead. */
export function startNginx(dir: string, listen: number, upstreamPort: number): ChildProcess {
  const conf = path.join(dir, "nginx.conf");
  writeFileSync(
    conf,
    `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  upstream model { server 127.0.0.1:${upstreamPort}; keepalive 128; }
  server {
    listen 127.0.0.1:${listen};
    client_max_body_size 10m;
    location / {
      proxy_pass http://model;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
`,
  );
  return child("/usr/sbin/nginx", ["-c", conf, "-p", dir]);
}

export function toolsAvailable(): string | undefined {
  try {
    execFileSync("wrk", ["--version"], { stdio: "ignore" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT")
      return "wrk is not installed (run ./scripts/bench-tools.sh)";
  }
  try {
    execFileSync("/usr/sbin/nginx", ["-v"], { stdio: "ignore" });
  } catch {
    return "nginx is not installed (run ./scripts/bench-tools.sh)";
  }
  return undefined;
}
