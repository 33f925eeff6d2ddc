import { ModelSchema, type ResolvedModel } from "@switchyard/core";
import { describe, expect, it } from "vitest";
import { adapterFor, LLAMA_CPP_NODE_KEY_ENV } from "../src";

/** A model as the config loader resolves it. */
function model(engine: Record<string, unknown>, extra: Record<string, unknown> = {}): ResolvedModel {
  const parsed = ModelSchema.parse({
    id: "llama-cpp/tiny-chat",
    cluster: "local",
    framework: "llama-cpp",
    capabilities: ["chat"],
    placement: "hot",
    engine: { type: "llama-cpp-node", ...engine },
    ...extra,
  });
  return {
    ...parsed,
    expectedLoadTime: 10,
    idleTtl: 7200,
    maxLifetime: 86400,
    minReplicas: 1,
    maxReplicas: 1,
    replicaConcurrency: 32,
  };
}

const options = { switchyardBin: "/opt/switchyard/bin/switchyard.mjs", nodePath: "/usr/bin/node" };

describe("the llama-cpp-node engine", () => {
  it("runs switchyard's llama.cpp server on the GGUF, serving the model's id, ready when /health says 200", () => {
    const m = model({ weights: "generated:tiny-chat", parallel: 2, threads: 1, gpu: "none" }, { contextLength: 2048 });
    const adapter = adapterFor(m, options);
    const plan = adapter.launch(m, { host: "127.0.0.1", port: 9001 });
    expect(plan).toMatchObject({
      kind: "process",
      baseUrl: "http://127.0.0.1:9001",
      serverKeyEnv: LLAMA_CPP_NODE_KEY_ENV,
    });
    expect(plan.kind === "process" && plan.argv).toEqual([
      "/usr/bin/node",
      "/opt/switchyard/bin/switchyard.mjs",
      "engine",
      "llama-cpp",
      "--model",
      "generated:tiny-chat",
      "--host",
      "127.0.0.1",
      "--port",
      "9001",
      "--alias",
      "llama-cpp/tiny-chat",
      "--ctx",
      "2048",
      "--parallel",
      "2",
      "--threads",
      "1",
      "--gpu",
      "none",
    ]);
    expect(adapter.readiness(m)).toEqual([{ path: "/health", status: 200 }]);
    expect(adapter.upstreamModelName(m)).toBe("llama-cpp/tiny-chat");
  });

  it("leaves out what is not set, and lets engine.args override a default", () => {
    const m = model({ weights: "/models/m.gguf", args: ["--alias", "served-name"], env: { A: "1" } });
    const plan = adapterFor(m, options).launch(m, { host: "0.0.0.0", port: "$SY_PORT" });
    expect(plan.kind === "process" && plan.argv.slice(4)).toEqual([
      "--model",
      "/models/m.gguf",
      "--host",
      "0.0.0.0",
      "--port",
      "$SY_PORT",
      "--alias",
      "served-name",
    ]);
    expect(plan.kind === "process" && plan.env).toEqual({ A: "1" });
  });

  it("needs the switchyard binary to launch", () => {
    const m = model({ weights: "/m.gguf" });
    expect(() => adapterFor(m).launch(m, { host: "127.0.0.1", port: 1 })).toThrow(/switchyardBin/);
  });
});
