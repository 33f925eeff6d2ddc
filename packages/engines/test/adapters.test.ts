import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type ModelConfig, ModelSchema, type ResolvedModel } from "@switchyard/core";
import { describe, expect, it } from "vitest";
import {
  adapterFor,
  checkReady,
  engineAdapters,
  ReadinessTimeoutError,
  simulatorAdapter,
  vllmAdapter,
  waitForReady,
} from "../src";
import { simulator } from "./helpers";

const target = { host: "10.0.0.7", port: 8123 };

/** A model as the config loader resolves it. */
function model(input: Partial<Omit<ModelConfig, "engine">> & { engine?: unknown; id: string }): ResolvedModel {
  const parsed = ModelSchema.parse({
    cluster: "lab",
    framework: "vllm",
    capabilities: ["chat"],
    placement: "dynamic",
    ...input,
  });
  return {
    ...parsed,
    expectedLoadTime: 600,
    idleTtl: 7200,
    maxLifetime: 86400,
    minReplicas: 0,
    maxReplicas: 1,
    replicaConcurrency: 32,
  };
}

describe("vLLM", () => {
  it("serves the weights under the model id with its GPUs and context length", () => {
    const m = model({
      id: "meta-llama/Meta-Llama-3.1-8B-Instruct",
      family: "Llama",
      gpus: 2,
      contextLength: 131072,
      engine: { type: "vllm", weights: "/models/llama-3.1-8b", env: { HF_HUB_OFFLINE: "1" } },
    });
    expect(vllmAdapter.launch(m, target)).toEqual({
      kind: "process",
      argv: [
        "vllm",
        "serve",
        "/models/llama-3.1-8b",
        "--host",
        "10.0.0.7",
        "--port",
        "8123",
        "--served-model-name",
        "meta-llama/Meta-Llama-3.1-8B-Instruct",
        "--tensor-parallel-size",
        "2",
        "--max-model-len",
        "131072",
      ],
      env: { HF_HUB_OFFLINE: "1" },
      baseUrl: "http://10.0.0.7:8123",
      serverKeyEnv: "VLLM_API_KEY",
    });
    expect(vllmAdapter.gpus(m)).toBe(2);
    expect(vllmAdapter.readiness(m)).toEqual([{ path: "/health", status: 200 }]);
    expect(vllmAdapter.upstreamModelName(m)).toBe(m.id);
    expect(vllmAdapter.apiBasePath).toBe("/v1");
  });

  it.each([
    ["meta-llama/Llama-3.3-70B-Instruct", "Llama", ["tools"], ["--tool-call-parser", "llama3_json"]],
    ["mistralai/Mistral-7B-Instruct-v0.3", "Mistral", ["tools"], ["--tool-call-parser", "mistral"]],
    ["Qwen/Qwen2.5-7B-Instruct", "Qwen", ["tools"], ["--tool-call-parser", "hermes"]],
    ["Qwen/Qwen3-32B", "Qwen", ["tools", "reasoning"], ["--tool-call-parser", "hermes", "--reasoning-parser", "qwen3"]],
    ["Qwen/QwQ-32B", "Qwen", ["reasoning"], ["--reasoning-parser", "deepseek_r1"]],
    [
      "openai/gpt-oss-120b",
      "gpt-oss",
      ["tools", "reasoning"],
      ["--tool-call-parser", "openai", "--reasoning-parser", "openai_gptoss"],
    ],
  ])("picks the parsers for %s", (id, family, extra, expected) => {
    const m = model({
      id,
      family,
      capabilities: ["chat", ...(extra as ("tools" | "reasoning")[])],
      engine: { type: "vllm" },
    });
    const argv = vllmAdapter.launch(m, target);
    if (argv.kind !== "process") throw new Error("expected a process");
    const tail = argv.argv.slice(argv.argv.indexOf("--tensor-parallel-size") + 2);
    expect(tail).toEqual([...(extra.includes("tools") ? ["--enable-auto-tool-choice"] : []), ...expected]);
  });

  it("lets engine.args override a flag it would add, and appends them", () => {
    const m = model({
      id: "meta-llama/Llama-3.3-70B-Instruct",
      capabilities: ["chat", "tools"],
      gpus: 8,
      engine: {
        type: "vllm",
        tensorParallel: 4,
        args: ["--tool-call-parser=pythonic", "--pipeline-parallel-size", "2", "--max-model-len", "65536"],
      },
      contextLength: 131072,
    });
    const plan = vllmAdapter.launch(m, target);
    if (plan.kind !== "process") throw new Error("expected a process");
    expect(plan.argv.slice(7)).toEqual([
      "--served-model-name",
      "meta-llama/Llama-3.3-70B-Instruct",
      "--tensor-parallel-size",
      "4",
      "--enable-auto-tool-choice",
      "--tool-call-parser=pythonic",
      "--pipeline-parallel-size",
      "2",
      "--max-model-len",
      "65536",
    ]);
  });
});

describe("the other engines", () => {
  const adapters = engineAdapters({ switchyardBin: "/opt/switchyard/bin/switchyard.mjs", nodePath: "/usr/bin/node" });

  it("launches Infinity with its OpenAI routes under /v1", () => {
    const m = model({
      id: "nvidia/NV-Embed-v2",
      framework: "infinity",
      capabilities: ["embedding"],
      engine: { type: "infinity", weights: "/models/nv-embed-v2", args: ["--batch-size", "64"] },
    });
    expect(adapters.infinity.launch(m, target)).toEqual({
      kind: "process",
      argv: [
        "infinity_emb",
        "v2",
        "--model-id",
        "/models/nv-embed-v2",
        "--served-model-name",
        "nvidia/NV-Embed-v2",
        "--host",
        "10.0.0.7",
        "--port",
        "8123",
        "--url-prefix",
        "/v1",
        "--batch-size",
        "64",
      ],
      env: {},
      baseUrl: "http://10.0.0.7:8123",
      serverKeyEnv: "INFINITY_API_KEY",
    });
    expect(adapters.infinity.readiness(m)).toEqual([{ path: "/health", status: 200 }]);
  });

  it("launches llama.cpp's server on every GPU layer, with --jinja for tools", () => {
    const m = model({
      id: "local/llama-gguf",
      capabilities: ["chat", "tools"],
      contextLength: 8192,
      engine: { type: "llama-cpp", weights: "/models/llama.Q4_K_M.gguf" },
    });
    const plan = adapters["llama-cpp"].launch(m, target);
    expect(plan).toMatchObject({
      kind: "process",
      argv: [
        "llama-server",
        "-m",
        "/models/llama.Q4_K_M.gguf",
        "--host",
        "10.0.0.7",
        "--port",
        "8123",
        "--alias",
        "local/llama-gguf",
        "-c",
        "8192",
        "-ngl",
        "999",
        "--jinja",
      ],
    });
    const cpuOnly = model({
      id: "local/cpu",
      engine: { type: "llama-cpp", weights: "/m.gguf", args: ["-ngl", "0"] },
    });
    const cpuPlan = adapters["llama-cpp"].launch(cpuOnly, target);
    expect(cpuPlan.kind === "process" && cpuPlan.argv.slice(7)).toEqual(["--alias", "local/cpu", "-ngl", "0"]);
    expect(adapters["llama-cpp"].readiness(m)).toEqual([{ path: "/health", status: 200 }]);
  });

  it("runs Ollama on the target address and asks for the model by its tag", () => {
    const m = model({
      id: "llama3.1-8b",
      engine: { type: "ollama", tag: "llama3.1:8b", env: { OLLAMA_KEEP_ALIVE: "24h" } },
    });
    expect(adapters.ollama.launch(m, target)).toEqual({
      kind: "process",
      argv: ["ollama", "serve"],
      env: { OLLAMA_KEEP_ALIVE: "24h", OLLAMA_HOST: "10.0.0.7:8123" },
      baseUrl: "http://10.0.0.7:8123",
    });
    expect(adapters.ollama.upstreamModelName(m)).toBe("llama3.1:8b");
    expect(adapters.ollama.readiness(m)).toEqual([
      { path: "/api/version", status: 200 },
      { path: "/api/tags", status: 200, lists: { format: "ollama", model: "llama3.1:8b" } },
    ]);
    const untagged = model({ id: "mistral", engine: { type: "ollama", tag: "mistral" } });
    expect(adapters.ollama.readiness(untagged)[1]?.lists?.model).toBe("mistral:latest");
  });

  it("starts nothing for an external server and checks its model list", () => {
    const m = model({
      id: "partner/big-model",
      framework: "api",
      engine: { type: "external", url: "https://inference.partner.example/", apiKeyEnv: "PARTNER_KEY" },
      gpus: 4,
    });
    expect(adapters.external.launch(m, target)).toEqual({
      kind: "external",
      baseUrl: "https://inference.partner.example",
      apiKeyEnv: "PARTNER_KEY",
    });
    expect(adapters.external.gpus(m)).toBe(0);
    expect(adapters.external.readiness(m)).toEqual([{ path: "/v1/models", status: 200 }]);
  });

  it("launches the simulator through the switchyard binary with a scaled load time", () => {
    const m = model({
      id: "Qwen/Qwen3-32B",
      capabilities: ["chat", "completions", "tools", "reasoning"],
      contextLength: 32768,
      gpus: 4,
      engine: { type: "simulator" },
    });
    const scaled = engineAdapters({ switchyardBin: "/opt/sy.mjs", nodePath: "/usr/bin/node", loadTimeScale: 0.002 });
    expect(scaled.simulator.launch(m, target)).toEqual({
      kind: "process",
      argv: [
        "/usr/bin/node",
        "/opt/sy.mjs",
        "simulator",
        "--model",
        "Qwen/Qwen3-32B",
        "--host",
        "10.0.0.7",
        "--port",
        "8123",
        "--capabilities",
        "chat,completions,tools,reasoning",
        "--load-time",
        "1200ms", // 600 s expected x 0.002
        "--max-model-len",
        "32768",
      ],
      env: {},
      baseUrl: "http://10.0.0.7:8123",
      serverKeyEnv: "SWITCHYARD_SIMULATOR_API_KEY",
      shared: { argv: ["/usr/bin/node", "/opt/sy.mjs", "simulator-host"], args: expect.any(Array) },
    });
    // In a shared host: the same flags, given to the host instead of a command line of its own.
    const whole = scaled.simulator.launch(m, target);
    expect(whole.kind === "process" && whole.shared?.args).toEqual(whole.kind === "process" && whole.argv.slice(3));
    expect(scaled.simulator.gpus(m)).toBe(4);

    const tuned = model({
      id: "sim/tuned",
      engine: {
        type: "simulator",
        loadTime: "3s",
        timeToFirstToken: "20ms",
        tokensPerSecond: 80,
        maxConcurrency: 4,
        embeddingDimensions: 512,
        profile: "fast",
        args: ["--seed", "5"],
      },
    });
    const plan = scaled.simulator.launch(tuned, target);
    expect(plan.kind === "process" && plan.argv.slice(11)).toEqual([
      "--load-time",
      "3000ms",
      "--ttft",
      "20ms",
      "--tokens-per-second",
      "80",
      "--max-concurrency",
      "4",
      "--embedding-dimensions",
      "512",
      "--profile",
      "fast",
      "--seed",
      "5",
    ]);
    expect(() => simulatorAdapter().launch(tuned, target)).toThrow(/switchyardBin/);
  });

  it("picks the adapter by the model's engine and refuses a model of another engine", () => {
    const m = model({ id: "x", engine: { type: "ollama", tag: "x" } });
    expect(adapterFor(m).type).toBe("ollama");
    expect(() => vllmAdapter.launch(m, target)).toThrow(/runs on engine 'ollama', not 'vllm'/);
  });
});

describe("readiness", () => {
  it("is not ready while the server loads, then ready", async () => {
    await using sim = await simulator({ loadTime: 0.4 });
    const checks = [{ path: "/health", status: 200 }];
    expect(await checkReady(sim.url, checks)).toEqual({
      ready: false,
      status: 503,
      detail: `GET ${sim.url}/health answered 503, expected 200`,
    });
    const ready = await waitForReady(sim.url, checks, { timeoutMs: 10_000, intervalMs: 50 });
    expect(ready).toEqual({ ready: true, status: 200, detail: "ready" });
    expect(sim.isReady()).toBe(true);
  });

  it("says why when nothing listens, and gives up after the timeout", async () => {
    const sim = await simulator();
    const url = sim.url;
    await sim.close();
    const result = await checkReady(url, [{ path: "/health", status: 200 }]);
    expect(result).toEqual({ ready: false, detail: `GET ${url}/health: ECONNREFUSED` });

    const error = await waitForReady(url, [{ path: "/health", status: 200 }], { timeoutMs: 200, intervalMs: 50 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ReadinessTimeoutError);
    expect((error as ReadinessTimeoutError).message).toMatch(/was not ready after 0\.2s: .*ECONNREFUSED/);
  });

  it("stops waiting when aborted", async () => {
    await using sim = await simulator({ loadTime: 60 });
    const controller = new AbortController();
    const waiting = waitForReady(sim.url, [{ path: "/health", status: 200 }], {
      intervalMs: 20,
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(new Error("scheduler stopping")), 50);
    await expect(waiting).rejects.toThrow("scheduler stopping");
  });

  it("checks an external server's model list like the simulator's", async () => {
    await using sim = await simulator();
    const m = model({ id: "acme/sim-7b", framework: "api", engine: { type: "external", url: sim.url } });
    const plan = adapterFor(m).launch(m, target);
    expect(await checkReady(plan.baseUrl, adapterFor(m).readiness(m))).toMatchObject({ ready: true });
  });

  it("waits for an Ollama tag to be listed", async () => {
    const tags: { name: string; model: string }[] = [];
    const ollama: Server = createServer((req, res) => {
      res.setHeader("content-type", "application/json");
      if (req.url === "/api/version") res.end('{"version":"0.12.0"}');
      else if (req.url === "/api/tags") res.end(JSON.stringify({ models: tags }));
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => ollama.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(ollama.address() as AddressInfo).port}`;
      const m = model({ id: "llama", engine: { type: "ollama", tag: "llama3.1:8b" } });
      const checks = adapterFor(m).readiness(m);
      expect(await checkReady(url, checks)).toMatchObject({
        ready: false,
        detail: `GET ${url}/api/tags does not list 'llama3.1:8b' yet`,
      });
      tags.push({ name: "llama3.1:8b", model: "llama3.1:8b" });
      expect(await checkReady(url, checks)).toMatchObject({ ready: true });
    } finally {
      await new Promise((resolve) => ollama.close(resolve));
    }
  });
});
