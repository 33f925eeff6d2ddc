import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { ModelSchema, type ResolvedModel } from "@switchyard/core";
import { engineAdapters, waitForReady } from "@switchyard/engines";
import { afterEach, describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../bin/switchyard-source.mjs", import.meta.url));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

function spawnSwitchyard(argv: string[]): ChildProcess {
  const child = spawn(argv[0] as string, argv.slice(1), { env: { PATH: process.env.PATH, HOME: process.env.HOME } });
  children.push(child);
  return child;
}

/** Start `switchyard simulator` and wait for it to print its URL. */
function simulator(args: string[]) {
  const child = spawnSwitchyard([process.execPath, BIN, "simulator", "--port", "0", ...args]);
  let stdout = "";
  let stderr = "";
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  child.stdout?.on("data", (d) => (stdout += d));
  const url = new Promise<string>((resolve, reject) => {
    child.stderr?.on("data", (d) => {
      stderr += d;
      const match = /Switchyard simulator is up: (http:\/\/\S+)/.exec(stderr);
      if (match?.[1]) resolve(match[1]);
    });
    void exited.then((code) => reject(new Error(`simulator exited with ${code}: ${stderr}`)));
  });
  return { child, url, exited, output: () => ({ stdout, stderr }) };
}

/** A port that was free a moment ago (the adapter needs one before the process starts). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

const chat = (url: string, model: string) =>
  fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "Hello" }], max_tokens: 8 }),
  });

describe("switchyard simulator", () => {
  it("starts on port 0, prints its URL, answers chat, and stops cleanly on SIGTERM", async () => {
    const sim = simulator(["--model", "org/sim", "--profile", "fast"]);
    const url = await sim.url;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(sim.output().stderr).toMatch(/simulated, no real model/);

    const res = await chat(url, "org/sim");
    expect(res.status).toBe(200);
    expect(res.headers.get("x-switchyard-simulator")).toBe("1");
    const body = (await res.json()) as { model: string; usage: { completion_tokens: number } };
    expect(body.model).toBe("org/sim");
    expect(body.usage.completion_tokens).toBe(8);

    sim.child.kill("SIGTERM");
    expect(await sim.exited).toBe(0);
    const started = JSON.parse(sim.output().stdout.split("\n")[0] as string);
    expect(started).toMatchObject({ level: "info", simulator: true, model: "org/sim", url });
    expect(started.msg).toMatch(/NO real model/);
  });

  it("answers /health 503 during --load-time, then 200", async () => {
    const sim = simulator(["--model", "org/sim", "--load-time", "600ms"]);
    const url = await sim.url;
    const loading = await fetch(`${url}/health`);
    expect(loading.status).toBe(503);
    const deadline = Date.now() + 10_000;
    let status = loading.status;
    while (status !== 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      status = (await fetch(`${url}/health`)).status;
    }
    expect(status).toBe(200);
    sim.child.kill("SIGTERM");
    expect(await sim.exited).toBe(0);
  });

  it("exits non-zero after the first request with --crash-after-requests 1", async () => {
    const sim = simulator(["--model", "org/sim", "--profile", "fast", "--crash-after-requests", "1"]);
    const url = await sim.url;
    const res = await chat(url, "org/sim");
    expect(res.status).toBe(200);
    expect(await sim.exited).toBe(70);
    expect(sim.output().stdout).toMatch(
      /"level":"error","time":"[^"]+","msg":"simulated crash: 1 request\(s\) answered/,
    );
  });

  it.each([
    [["--model", "m", "--load-time", "soon"], /--load-time: 'soon' is not a duration/],
    [["--model", "m", "--fail-rate", "2"], /--fail-rate '2'/],
    [["--model", "m", "--capabilities", "chat,telepathy"], /--capabilities 'chat,telepathy'/],
    [["--load-time", "1s"], /required option '--model <id>' not specified/],
  ])("exits 2 with usage for bad flags %j", async (args, message) => {
    const child = spawnSwitchyard([process.execPath, BIN, "simulator", "--port", "0", ...args]);
    let stderr = "";
    child.stderr?.on("data", (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr).toMatch(/Usage: switchyard simulator/);
  });

  it("is what the simulator engine adapter launches, and becomes ready", async () => {
    const parsed = ModelSchema.parse({
      id: "org/adapter-sim",
      cluster: "lab",
      framework: "vllm",
      capabilities: ["chat", "completions"],
      placement: "dynamic",
      expectedLoadTime: "10m",
      contextLength: 4096,
      engine: { type: "simulator", profile: "fast" },
    });
    const model: ResolvedModel = {
      ...parsed,
      expectedLoadTime: 600,
      idleTtl: 7200,
      maxLifetime: 86400,
      minReplicas: 0,
      maxReplicas: 1,
      replicaConcurrency: 32,
    };
    const adapter = engineAdapters({ switchyardBin: BIN, loadTimeScale: 0.0005 }).simulator; // 10 min -> 300 ms
    const plan = adapter.launch(model, { host: "127.0.0.1", port: await freePort() });
    if (plan.kind !== "process") throw new Error("expected a process");
    expect(plan.argv).toContain("300ms");
    const child = spawnSwitchyard(plan.argv);
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    const ready = await waitForReady(plan.baseUrl, adapter.readiness(model), { timeoutMs: 20_000, intervalMs: 50 });
    expect(ready.ready).toBe(true);
    const res = await chat(`${plan.baseUrl}`, adapter.upstreamModelName(model));
    expect(res.status).toBe(200);
    const models = (await (await fetch(`${plan.baseUrl}${adapter.apiBasePath}/models`)).json()) as {
      data: { id: string; max_model_len: number; owned_by: string }[];
    };
    expect(models.data).toEqual([
      expect.objectContaining({ id: "org/adapter-sim", max_model_len: 4096, owned_by: "switchyard-simulator" }),
    ]);
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });
});
