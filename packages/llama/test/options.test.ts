import { describe, expect, it } from "vitest";
import { defaultModelId, LlamaServerOptionsError, llamaServerOptionsFromFlags } from "../src";

describe("switchyard engine llama-cpp flags", () => {
  it("takes the key from --api-key, else from LLAMA_API_KEY (out of the process list)", () => {
    expect(llamaServerOptionsFromFlags({ model: "m.gguf" }, { LLAMA_API_KEY: "from-env" }).apiKey).toBe("from-env");
    expect(llamaServerOptionsFromFlags({ model: "m.gguf", apiKey: "flag" }, { LLAMA_API_KEY: "env" }).apiKey).toBe(
      "flag",
    );
    expect(llamaServerOptionsFromFlags({ model: "m.gguf" }, {}).apiKey).toBeUndefined();
  });

  it("names every bad flag at once", () => {
    const error = (() => {
      try {
        llamaServerOptionsFromFlags({ model: "m.gguf", parallel: "two", gpu: "metal", port: "70000" }, {});
      } catch (e) {
        return e as LlamaServerOptionsError;
      }
    })();
    expect(error).toBeInstanceOf(LlamaServerOptionsError);
    expect(error?.problems.map((p) => p.split(":")[0]).sort()).toEqual(["--gpu", "--parallel", "--port"]);
  });

  it("serves a model under its file's name, or a generated model's name, unless --alias says otherwise", () => {
    expect(defaultModelId("/models/Qwen2.5-0.5B-Instruct-Q4_K_M.gguf")).toBe("Qwen2.5-0.5B-Instruct-Q4_K_M");
    expect(defaultModelId("generated:tiny-chat")).toBe("tiny-chat");
  });
});
