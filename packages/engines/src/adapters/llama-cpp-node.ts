import { type EngineAdapter, type EngineAdapterOptions, engineOf, hasFlag, hostUrl, type LaunchPlan } from "./types";

/**
 * Where `switchyard engine llama-cpp` reads its key when no `--api-key` is given: llama-server's
 * own variable, so one name serves both llama.cpp servers.
 */
export const LLAMA_CPP_NODE_KEY_ENV = "LLAMA_API_KEY";

/**
 * llama.cpp through node-llama-cpp, run as `<node> <switchyard bin> engine llama-cpp ...`: a
 * real engine that installs from npm. Its own type (not `llama-cpp` falling back when
 * llama-server is missing) because which server runs must not depend on a node's PATH.
 */
export function llamaCppNodeAdapter(options: EngineAdapterOptions = {}): EngineAdapter {
  return {
    type: "llama-cpp-node",
    apiBasePath: "/v1",
    launch(model, target) {
      const engine = engineOf(model, "llama-cpp-node");
      if (!options.switchyardBin) {
        throw new Error("launching llama-cpp-node needs the path of the switchyard binary (switchyardBin)");
      }
      const args = engine.args;
      const argv = [options.nodePath ?? process.execPath, options.switchyardBin, "engine", "llama-cpp"];
      argv.push("--model", engine.weights, "--host", target.host, "--port", String(target.port));
      const flag = (name: string, value: string | number | undefined) => {
        if (value !== undefined && !hasFlag(args, name)) argv.push(name, String(value));
      };
      flag("--alias", model.id);
      flag("--ctx", model.contextLength);
      flag("--parallel", engine.parallel);
      flag("--threads", engine.threads);
      flag("--gpu", engine.gpu);
      argv.push(...args);
      const plan: LaunchPlan = {
        kind: "process",
        argv,
        env: { ...engine.env },
        baseUrl: hostUrl(target),
        serverKeyEnv: LLAMA_CPP_NODE_KEY_ENV,
      };
      return plan;
    },
    gpus: (model) => model.gpus,
    // 503 while the model loads, 200 once it answers.
    readiness: () => [{ path: "/health", status: 200 }],
    upstreamModelName: (model) => model.id,
  };
}
