import type { EngineSpec, EngineType, ResolvedModel } from "@switchyard/core";

/** Where a model server is to listen (the launcher picks a node-local host and a free port). */
export interface LaunchTarget {
  host: string;
  /**
   * The port, or a shell variable reference (e.g. `$SY_PORT`) for launchers that choose the
   * port where the job runs (Slurm); such a launcher quotes it as a variable in its script.
   */
  port: number | string;
}

/** How to run a model's server: a process to start, or an external URL that is already serving. */
export type LaunchPlan =
  | {
      kind: "process";
      argv: string[];
      /** Added to the launcher's environment. */
      env: Record<string, string>;
      /** `http://host:port`: health and API paths are relative to it. */
      baseUrl: string;
      /**
       * The environment variable the engine reads its API key from (vLLM's `VLLM_API_KEY`, ...):
       * the launcher sets it to the deployment's key, never a command-line argument, so the key
       * stays out of process listings. Undefined: the engine cannot check a key (Ollama).
       */
      serverKeyEnv: string | undefined;
      /**
       * Set when the server can also run inside a shared host process (the simulator): `argv`
       * starts the host, which then opens one server per `args` (the same flags as the
       * server's own command line) on the port they name. A launcher may use it to run many
       * such servers in one process; `argv` above stays the one-process-per-server form.
       */
      shared?: { argv: string[]; args: string[] };
    }
  | {
      kind: "external";
      baseUrl: string;
      /** Environment variable holding the bearer key the external server wants, if any. */
      apiKeyEnv: string | undefined;
    };

/** One readiness probe: `GET baseUrl + path` must answer `status` (and list the model, when asked). */
export interface ReadinessCheck {
  path: string;
  status: number;
  /** The JSON body must list this model: OpenAI's `{data:[{id}]}` or Ollama's `{models:[{name}]}`. */
  lists?: { format: "openai" | "ollama"; model: string };
}

export interface EngineAdapter {
  readonly type: EngineType;
  /** Path of the OpenAI-compatible API under the base URL. */
  readonly apiBasePath: string;
  /** The command (or URL) that serves `model` on `target`. */
  launch(model: ResolvedModel, target: LaunchTarget): LaunchPlan;
  /** GPUs the server needs on its node (0 for external servers). */
  gpus(model: ResolvedModel): number;
  /** Probes that must all pass, in order, before the server takes traffic. */
  readiness(model: ResolvedModel): ReadinessCheck[];
  /** The model name the server expects in requests; the gateway rewrites `model` only when it differs from the id. */
  upstreamModelName(model: ResolvedModel): string;
}

/** Options the caller knows and the engines package must not look up itself. */
export interface EngineAdapterOptions {
  /** Path to `apps/server/bin/switchyard.mjs`, needed to launch the simulator. */
  switchyardBin?: string;
  /** The Node.js binary that runs it (default: this process's). */
  nodePath?: string;
  /** `config.simulator.loadTimeScale`: the simulator loads in `expectedLoadTime * loadTimeScale` unless the engine sets `loadTime`. */
  loadTimeScale?: number;
  /**
   * Which of the service's environment variables a model server inherits (names and `PREFIX_*`
   * patterns): `DEFAULT_MODEL_SERVER_ENV` plus `scheduler.modelServerEnv`.
   */
  modelServerEnv?: readonly string[];
  /** Variables the config reads secrets from (`apiKeyEnv`, `metrics.tokenEnv`, ...): never inherited. */
  secretEnvNames?: readonly string[];
}

/** The model's engine spec, checked to be of the adapter's type. */
export function engineOf<T extends EngineType>(model: ResolvedModel, type: T): Extract<EngineSpec, { type: T }> {
  if (model.engine.type !== type) {
    throw new Error(`model '${model.id}' runs on engine '${model.engine.type}', not '${type}'`);
  }
  return model.engine as Extract<EngineSpec, { type: T }>;
}

/** `http://host:port`, bracketing IPv6 literals. */
export function hostUrl(target: LaunchTarget): string {
  const host = target.host.includes(":") ? `[${target.host}]` : target.host;
  return `http://${host}:${target.port}`;
}

/** True when extra args already set `flag` (as `--flag value` or `--flag=value`), so a default must not be added. */
export function hasFlag(args: readonly string[], ...flags: string[]): boolean {
  return args.some((arg) => flags.some((flag) => arg === flag || arg.startsWith(`${flag}=`)));
}
