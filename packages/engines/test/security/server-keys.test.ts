import { type ResolvedModel, validateConfig } from "@switchyard/core";
import { describe, expect, it } from "vitest";
import { engineAdapters, upstreamAuthorization } from "../../src";
import { post, simulator } from "../helpers";

/**
 * Every model server Switchyard launches requires its deployment's key. The launch plan names
 * the environment variable each engine reads it from, so the key never goes on a command line
 * (which every user of a node can list).
 */

function modelOn(engine: Record<string, unknown>): ResolvedModel {
  const result = validateConfig({
    clusters: [{ name: "lab", nodes: [{ name: "n1", gpus: 1, role: "rotating" }], frameworks: ["vllm"] }],
    models: [{ id: "org/m", cluster: "lab", framework: "vllm", capabilities: ["chat"], placement: "dynamic", engine }],
  });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.config.models[0]!;
}

describe("model server keys", () => {
  it("vLLM, Infinity, llama.cpp and the simulator take the key from their environment, never from the command line", () => {
    const adapters = engineAdapters({ switchyardBin: "/opt/switchyard/bin/switchyard.mjs" });
    const expected = {
      vllm: "VLLM_API_KEY",
      infinity: "INFINITY_API_KEY",
      "llama-cpp": "LLAMA_API_KEY",
      simulator: "SWITCHYARD_SIMULATOR_API_KEY",
    } as const;
    for (const [type, variable] of Object.entries(expected)) {
      const engine = type === "llama-cpp" ? { type, weights: "/models/m.gguf" } : { type };
      const plan = adapters[type as keyof typeof expected].launch(modelOn(engine), { host: "0.0.0.0", port: 8000 });
      if (plan.kind !== "process") throw new Error("expected a process");
      expect(plan.serverKeyEnv, type).toBe(variable);
      expect(
        plan.argv.some((arg) => arg.startsWith("--api-key")),
        type,
      ).toBe(false);
    }
  });

  it("a launched server is called with its deployment's key; an external one keeps its apiKeyEnv", () => {
    expect(upstreamAuthorization(modelOn({ type: "vllm" }), {}, "sy-server-abc")).toEqual({
      authorization: "Bearer sy-server-abc",
    });
    const external = modelOn({ type: "external", url: "http://10.0.0.9:8000", apiKeyEnv: "HOSTED_KEY" });
    expect(upstreamAuthorization(external, { HOSTED_KEY: "hosted" }, "sy-server-abc")).toEqual({
      authorization: "Bearer hosted",
    });
  });

  it("a simulator with a key refuses a request with a wrong key of the same length", async () => {
    await using sim = await simulator({ apiKey: "right-key-0123" });
    const ask = (authorization?: string) =>
      post(
        sim,
        "/v1/chat/completions",
        { model: sim.options.model, max_tokens: 2, messages: [{ role: "user", content: "hi" }] },
        {
          headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
        },
      );
    expect((await ask()).status).toBe(401);
    expect((await ask("Bearer wrong-key-0123")).status).toBe(401);
    expect((await ask("Bearer right-key-0123")).status).toBe(200);
  });
});
