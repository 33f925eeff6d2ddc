import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createPostgresDatabase, testDrivers } from "@switchyard/db/testing";
import { freePort } from "@switchyard/scheduler";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_PASSWORD, passwordToken, tempDataDir } from "./helpers";

const BIN = fileURLToPath(new URL("../bin/switchyard-source.mjs", import.meta.url));
const drivers = await testDrivers();

const LIMIT = 12;
const CONFIG = `
auth:
  # Long enough that only a broadcast revocation can explain a worker refusing a key at once.
  principalCacheTtl: 300
gateway:
  limits:
    user: { requestsPerMinute: 100000, tokensPerMinute: 100000000 }
    model: { tokensPerMinute: 100000000 }
    models:
      org/limited: { requestsPerMinute: ${LIMIT} }
clusters:
  - name: lab
    nodes: [{ name: hot-1, gpus: 8, role: hot }]
    frameworks: [vllm]
models:
  - { id: org/chat, cluster: lab, framework: vllm, capabilities: [chat], placement: hot, node: hot-1, engine: { type: simulator, loadTime: 100ms, profile: fast } }
  - { id: org/limited, cluster: lab, framework: vllm, capabilities: [chat], placement: hot, node: hot-1, engine: { type: simulator, loadTime: 100ms, profile: fast } }
`;

interface Answer {
  status: number;
  body: any;
}

/** One request on a connection of its own: node:cluster hands each new connection to the next worker. */
function call(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  return new Promise<Answer>((resolve, reject) => {
    const req = request(url, { method: init.method ?? "GET", headers: init.headers, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {}
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on("error", reject);
    req.setTimeout(15_000, () => req.destroy(new Error(`no answer from ${url} in 15 s`)));
    req.end(init.body);
  });
}

/** The gateway worker processes of the primary (Linux: its children that run `serve`, not the simulators). */
function workerPids(primary: number): number[] {
  return readFileSync(`/proc/${primary}/task/${primary}/children`, "utf8")
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes("serve");
      } catch {
        return false;
      }
    });
}

async function poll<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe.runIf(drivers.includes("postgres"))("serve --workers 2", { timeout: 120_000 }, () => {
  let child: ChildProcess;
  let exited: Promise<number | null>;
  let out = "";
  let url: string;
  let token: string;
  let key: string;
  const chat = (model: string, auth = key) =>
    call(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${auth}`, "content-type": "application/json" },
      body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], max_tokens: 4 }),
    });
  const workersSeen = async (n: number) => {
    const seen = new Set<number>();
    for (let i = 0; i < n; i++) seen.add((await call(`${url}/health`)).body.worker);
    return [...seen].sort();
  };

  beforeAll(async () => {
    const dir = tempDataDir();
    const pg = await createPostgresDatabase();
    const config = path.join(dir, "switchyard.yaml");
    writeFileSync(config, CONFIG);
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    child = spawn(
      process.execPath,
      [BIN, "serve", "--workers", "2", "--port", String(port), "--config", config, "--data-dir", dir],
      {
        env: {
          PATH: process.env.PATH ?? "",
          HOME: process.env.HOME ?? "",
          DATABASE_URL: pg.url,
          SWITCHYARD_ADMIN_PASSWORD: ADMIN_PASSWORD,
          SWITCHYARD_LOG_FORMAT: "json",
          SWITCHYARD_LOG_LEVEL: "info",
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    child.stdout?.on("data", (d) => (out += d));
    child.stderr?.on("data", (d) => (out += d));
    exited = new Promise((resolve) => child.on("close", resolve));
    await poll("the workers to listen", async () => {
      if (child.exitCode !== null) throw new Error(`serve exited: ${out}`);
      return out.includes("Switchyard is up") ? true : undefined;
    }).catch((error) => {
      throw new Error(`${error.message}\n${out}`);
    });
    token = await passwordToken(url);
    const created = await call(`${url}/v1/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "workers", scopes: ["inference"] }),
    });
    key = created.body.key;
    await poll("both models to answer", async () => {
      const [a, b] = await Promise.all([chat("org/chat"), chat("org/chat")]);
      return a.status === 200 && b.status === 200 ? true : undefined;
    });
  }, 120_000);

  afterAll(async () => {
    child?.kill("SIGTERM");
    expect(await exited).toBe(0);
    // SIGTERM drained every worker: none is left behind.
    expect(out).toContain("switchyard stopped");
  });

  it("spreads connections over both workers", async () => {
    expect(await workersSeen(8)).toEqual([1, 2]);
  });

  it("holds a model's rate limit across the workers: N + k requests, exactly k refused", async () => {
    const extra = 4;
    const answers = await Promise.all(Array.from({ length: LIMIT + extra }, () => chat("org/limited")));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 429)).toHaveLength(extra);
    expect(statuses.filter((s) => s === 200)).toHaveLength(LIMIT);
  });

  it("refuses a revoked key on every worker at once", async () => {
    const created = await call(`${url}/v1/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "to-revoke", scopes: ["inference"] }),
    });
    const doomed = created.body as { id: string; key: string };
    // Each worker caches it (connections alternate between them).
    for (let i = 0; i < 4; i++) expect((await chat("org/chat", doomed.key)).status).toBe(200);
    const revoked = await call(`${url}/v1/keys/${doomed.id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${token}` },
    });
    expect(revoked.status).toBe(200);
    const after = await Promise.all(Array.from({ length: 6 }, () => chat("org/chat", doomed.key)));
    expect(after.map((a) => a.status)).toEqual(Array(6).fill(401));
  });

  it("answers /metrics on any worker with the sum over the workers", async () => {
    const served = async () => {
      const res = await call(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      const line = String(res.body)
        .split("\n")
        .find(
          (l) => l.startsWith("switchyard_inference_requests_total{") && l.includes('model="org/chat",status="200"'),
        );
      return Number(line?.split(" ").pop() ?? 0);
    };
    const before = await served();
    for (let i = 0; i < 10; i++) expect((await chat("org/chat")).status).toBe(200);
    // Two scrapes, so both workers answer one: each says the same total.
    expect(await served()).toBe(before + 10);
    expect(await served()).toBe(before + 10);
  });

  it("replaces a worker that dies, and requests keep succeeding", async () => {
    const pid = child.pid as number;
    const [victim, survivor] = workerPids(pid);
    expect(victim).toBeDefined();
    process.kill(victim as number, "SIGKILL");
    // Logged once the primary has taken it out of the rotation (a connection handed to it in the
    // instant it died is lost: a limit of node:cluster's round robin, see docs/operations.md).
    await poll("the primary to log the death", async () =>
      out.includes("gateway worker exited; starting a new one") ? true : undefined,
    );
    for (let i = 0; i < 6; i++) expect((await chat("org/chat")).status).toBe(200);
    await poll("a new worker", async () => {
      const pids = workerPids(pid);
      return pids.length === 2 && !pids.includes(victim as number) ? true : undefined;
    });
    expect(workerPids(pid)).toContain(survivor);
    await poll("the new worker to listen", async () => ((await workersSeen(4)).length === 2 ? true : undefined));
    for (let i = 0; i < 6; i++) expect((await chat("org/chat")).status).toBe(200);
  });
});

describe("serve --workers on the embedded database", () => {
  it("refuses more than one worker, naming why", async () => {
    const dir = tempDataDir();
    const child = spawn(process.execPath, [BIN, "serve", "--workers", "2", "--port", "0", "--data-dir", dir], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).toBe(1);
    expect(stderr).toContain("serve --workers 2 needs PostgreSQL (set DATABASE_URL)");
  }, 30_000);
});
