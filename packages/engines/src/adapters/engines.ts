import type { EngineType, ResolvedModel } from "@switchyard/core";
import { LLAMA_CPP_NODE_KEY_ENV, llamaCppNodeAdapter } from "./llama-cpp-node";
import {
  type EngineAdapter,
  type EngineAdapterOptions,
  engineOf,
  hasFlag,
  hostUrl,
  type LaunchPlan,
  type LaunchTarget,
} from "./types";

const HEALTH_200 = [{ path: "/health", status: 200 }];

function has(model: ResolvedModel, capability: string): boolean {
  return (model.capabilities as readonly string[]).includes(capability);
}

/** `--flag value` unless the engine's own args already set the flag. */
function withDefault(argv: string[], args: readonly string[], flag: string | string[], value?: string): void {
  const flags = Array.isArray(flag) ? flag : [flag];
  if (hasFlag(args, ...flags)) return;
  argv.push(flags[0] as string);
  if (value !== undefined) argv.push(value);
}

function modelFamily(model: ResolvedModel): { id: string; family: string } {
  return { id: model.id.toLowerCase(), family: (model.family ?? "").toLowerCase() };
}

/** vLLM's tool-call parser for a model family: hermes unless the family has its own format. */
export function vllmToolParser(model: ResolvedModel): string {
  const { id, family } = modelFamily(model);
  if (id.includes("gpt-oss") || family === "gpt-oss") return "openai";
  if (id.includes("llama") || family === "llama") return "llama3_json";
  if (id.includes("mistral") || id.includes("mixtral") || family === "mistral") return "mistral";
  return "hermes";
}

/** vLLM's reasoning parser for a model family: deepseek_r1 (also right for QwQ) unless Qwen3 or gpt-oss. */
export function vllmReasoningParser(model: ResolvedModel): string {
  const { id, family } = modelFamily(model);
  if (id.includes("gpt-oss") || family === "gpt-oss") return "openai_gptoss";
  if (id.includes("qwen3")) return "qwen3";
  return "deepseek_r1";
}

/** Seconds as the simulator's `--load-time` takes them, to the millisecond. */
function durationFlag(seconds: number): string {
  return `${Math.round(seconds * 1000)}ms`;
}

/**
 * Where each engine reads its API key from when no `--api-key` is given: the launcher puts the
 * deployment's key there. Ollama has no key check at all.
 */
export const SERVER_KEY_ENV: Readonly<Record<Exclude<EngineType, "external">, string | undefined>> = {
  simulator: "SWITCHYARD_SIMULATOR_API_KEY",
  vllm: "VLLM_API_KEY",
  infinity: "INFINITY_API_KEY",
  "llama-cpp": "LLAMA_API_KEY",
  "llama-cpp-node": LLAMA_CPP_NODE_KEY_ENV,
  ollama: undefined,
};

function processPlan(
  type: Exclude<EngineType, "external">,
  argv: string[],
  env: Record<string, string>,
  target: LaunchTarget,
): LaunchPlan {
  return { kind: "process", argv, env, baseUrl: hostUrl(target), serverKeyEnv: SERVER_KEY_ENV[type] };
}

export const vllmAdapter: EngineAdapter = {
  type: "vllm",
  apiBasePath: "/v1",
  launch(model, target) {
    const engine = engineOf(model, "vllm");
    const args = engine.args;
    const argv = ["vllm", "serve", engine.weights ?? model.id, "--host", target.host, "--port", String(target.port)];
    withDefault(argv, args, "--served-model-name", model.id);
    withDefault(argv, args, ["--tensor-parallel-size", "-tp"], String(engine.tensorParallel ?? model.gpus));
    if (model.contextLength !== undefined) withDefault(argv, args, "--max-model-len", String(model.contextLength));
    if (has(model, "tools")) {
      withDefault(argv, args, "--enable-auto-tool-choice");
      withDefault(argv, args, "--tool-call-parser", vllmToolParser(model));
    }
    if (has(model, "reasoning")) withDefault(argv, args, "--reasoning-parser", vllmReasoningParser(model));
    argv.push(...args);
    return processPlan("vllm", argv, { ...engine.env }, target);
  },
  gpus: (model) => model.gpus,
  readiness: () => HEALTH_200,
  upstreamModelName: (model) => model.id,
};

export const infinityAdapter: EngineAdapter = {
  type: "infinity",
  apiBasePath: "/v1",
  launch(model, target) {
    const engine = engineOf(model, "infinity");
    const args = engine.args;
    const argv = ["infinity_emb", "v2", "--model-id", engine.weights ?? model.id];
    withDefault(argv, args, "--served-model-name", model.id);
    argv.push("--host", target.host, "--port", String(target.port));
    // Infinity serves its OpenAI routes at the root by default; /v1 keeps every engine's API at one path.
    withDefault(argv, args, "--url-prefix", "/v1");
    argv.push(...args);
    return processPlan("infinity", argv, { ...engine.env }, target);
  },
  gpus: (model) => model.gpus,
  readiness: () => HEALTH_200,
  upstreamModelName: (model) => model.id,
};

export const llamaCppAdapter: EngineAdapter = {
  type: "llama-cpp",
  apiBasePath: "/v1",
  launch(model, target) {
    const engine = engineOf(model, "llama-cpp");
    const args = engine.args;
    const argv = ["llama-server", "-m", engine.weights, "--host", target.host, "--port", String(target.port)];
    withDefault(argv, args, ["--alias", "-a"], model.id);
    if (model.contextLength !== undefined) withDefault(argv, args, ["-c", "--ctx-size"], String(model.contextLength));
    withDefault(argv, args, ["-ngl", "--n-gpu-layers", "--gpu-layers"], "999");
    if (has(model, "tools")) withDefault(argv, args, "--jinja");
    argv.push(...args);
    return processPlan("llama-cpp", argv, { ...engine.env }, target);
  },
  gpus: (model) => model.gpus,
  // 503 while the model loads, 200 once it answers.
  readiness: () => HEALTH_200,
  upstreamModelName: (model) => model.id,
};

/** Ollama names `llama3.1` as `llama3.1:latest` in its lists. */
function ollamaTag(tag: string): string {
  return tag.includes(":") ? tag : `${tag}:latest`;
}

export const ollamaAdapter: EngineAdapter = {
  type: "ollama",
  apiBasePath: "/v1",
  launch(model, target) {
    const engine = engineOf(model, "ollama");
    const host = target.host.includes(":") ? `[${target.host}]` : target.host;
    return processPlan(
      "ollama",
      ["ollama", "serve", ...engine.args],
      { ...engine.env, OLLAMA_HOST: `${host}:${target.port}` },
      target,
    );
  },
  gpus: (model) => model.gpus,
  // The server answers first; the model is usable once its tag has been pulled and is listed.
  readiness: (model) => [
    { path: "/api/version", status: 200 },
    { path: "/api/tags", status: 200, lists: { format: "ollama", model: ollamaTag(engineOf(model, "ollama").tag) } },
  ],
  upstreamModelName: (model) => engineOf(model, "ollama").tag,
};

export const externalAdapter: EngineAdapter = {
  type: "external",
  apiBasePath: "/v1",
  launch(model) {
    const engine = engineOf(model, "external");
    return { kind: "external", baseUrl: engine.url.replace(/\/+$/, ""), apiKeyEnv: engine.apiKeyEnv };
  },
  gpus: () => 0,
  readiness: () => [{ path: "/v1/models", status: 200 }],
  upstreamModelName: (model) => model.id,
};

/** The simulator, run as `node <switchyard bin> simulator ...` (a real process, like a real engine). */
export function simulatorAdapter(options: EngineAdapterOptions = {}): EngineAdapter {
  return {
    type: "simulator",
    apiBasePath: "/v1",
    launch(model, target) {
      const engine = engineOf(model, "simulator");
      if (!options.switchyardBin) {
        throw new Error("launching the simulator needs the path of the switchyard binary (switchyardBin)");
      }
      const loadTime = expectedReadySeconds(model, options);
      const argv = [
        options.nodePath ?? process.execPath,
        options.switchyardBin,
        "simulator",
        "--model",
        model.id,
        "--host",
        target.host,
        "--port",
        String(target.port),
        "--capabilities",
        model.capabilities.join(","),
        "--load-time",
        durationFlag(loadTime),
      ];
      if (model.contextLength !== undefined) argv.push("--max-model-len", String(model.contextLength));
      if (engine.timeToFirstToken !== undefined) argv.push("--ttft", durationFlag(engine.timeToFirstToken));
      if (engine.tokensPerSecond !== undefined) argv.push("--tokens-per-second", String(engine.tokensPerSecond));
      if (engine.maxConcurrency !== undefined) argv.push("--max-concurrency", String(engine.maxConcurrency));
      if (engine.embeddingDimensions !== undefined) {
        argv.push("--embedding-dimensions", String(engine.embeddingDimensions));
      }
      if (engine.profile !== undefined) argv.push("--profile", engine.profile);
      argv.push(...engine.args);
      return {
        ...processPlan("simulator", argv, { ...engine.env }, target),
        shared: { argv: [...argv.slice(0, 2), "simulator-host"], args: argv.slice(3) },
      };
    },
    gpus: (model) => model.gpus,
    readiness: () => HEALTH_200,
    upstreamModelName: (model) => model.id,
  };
}

/**
 * Seconds from launch until the model's server should be ready: what users are told as ETA and
 * what start timeouts scale with. The simulator loads in its `loadTime`, or the model's expected
 * load time scaled by `loadTimeScale`; real engines take the expected load time.
 */
export function expectedReadySeconds(
  model: ResolvedModel,
  options: Pick<EngineAdapterOptions, "loadTimeScale"> = {},
): number {
  if (model.engine.type === "simulator")
    return model.engine.loadTime ?? model.expectedLoadTime * (options.loadTimeScale ?? 1);
  return model.expectedLoadTime;
}

/** One adapter per engine type. */
export function engineAdapters(options: EngineAdapterOptions = {}): Readonly<Record<EngineType, EngineAdapter>> {
  return {
    simulator: simulatorAdapter(options),
    vllm: vllmAdapter,
    infinity: infinityAdapter,
    "llama-cpp": llamaCppAdapter,
    "llama-cpp-node": llamaCppNodeAdapter(options),
    ollama: ollamaAdapter,
    external: externalAdapter,
  };
}

/**
 * The `Authorization` header Switchyard sends to a model's server (requests, batch lines,
 * readiness and health checks). A server Switchyard launched wants its deployment's own
 * generated key (`serverKey`); an external server with `apiKeyEnv` (vLLM's `--api-key`, a
 * hosted endpoint) gets the key from that environment variable, and `missing` names the
 * variable when it is configured but unset.
 */
export function upstreamAuthorization(
  model: ResolvedModel,
  env: NodeJS.ProcessEnv = process.env,
  serverKey?: string | null,
): { authorization?: string; missing?: string } {
  if (model.engine.type !== "external") return serverKey ? { authorization: `Bearer ${serverKey}` } : {};
  if (!model.engine.apiKeyEnv) return {};
  const key = env[model.engine.apiKeyEnv];
  return key ? { authorization: `Bearer ${key}` } : { missing: model.engine.apiKeyEnv };
}

/** The adapter for a model's engine. */
export function adapterFor(model: ResolvedModel, options: EngineAdapterOptions = {}): EngineAdapter {
  return engineAdapters(options)[model.engine.type];
}
