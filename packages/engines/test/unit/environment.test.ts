import { describe, expect, it } from "vitest";
import { DEFAULT_MODEL_SERVER_ENV, inheritedEnvironment, modelServerEnvironment } from "../../src";

const service = {
  PATH: "/usr/bin",
  HOME: "/home/svc",
  LC_ALL: "C.UTF-8",
  CUDA_VISIBLE_DEVICES: "0,1",
  HF_HOME: "/models/hf",
  DATABASE_URL: "postgres://svc:secret@db/switchyard",
  REDIS_URL: "redis://:secret@cache",
  SWITCHYARD_METRICS_TOKEN: "scrape-secret",
  SWITCHYARD_CACHE_DIR: "/scratch/cache",
  VLLM_REMOTE_KEY: "external-server-key",
  OIDC_CLIENT_SECRET: "provider-secret",
};

describe("what a model server inherits of the service's environment", () => {
  it("passes the engines' variables (names and prefixes) and nothing else", () => {
    expect(modelServerEnvironment(service, DEFAULT_MODEL_SERVER_ENV)).toEqual({
      PATH: "/usr/bin",
      HOME: "/home/svc",
      LC_ALL: "C.UTF-8",
      CUDA_VISIBLE_DEVICES: "0,1",
      HF_HOME: "/models/hf",
      SWITCHYARD_CACHE_DIR: "/scratch/cache",
      VLLM_REMOTE_KEY: "external-server-key",
    });
  });

  it("never passes the service's own variables or the config's secret variables, whatever the list says", () => {
    const env = inheritedEnvironment(
      {
        modelServerEnv: ["*", "DATABASE_URL", "SWITCHYARD_*"],
        secretEnvNames: ["VLLM_REMOTE_KEY", "OIDC_CLIENT_SECRET"],
      },
      service,
    );
    expect(Object.keys(env).sort()).toEqual([
      "CUDA_VISIBLE_DEVICES",
      "HF_HOME",
      "HOME",
      "LC_ALL",
      "PATH",
      "SWITCHYARD_CACHE_DIR",
    ]);
  });
});
