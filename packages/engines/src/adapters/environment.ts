/**
 * The environment a model server starts with. The service's own environment holds its secrets
 * (`DATABASE_URL`, `REDIS_URL`, the metrics scrape token, external servers' keys, provider
 * credentials); a model server runs code the service does not control (an engine, a model's
 * own code with `--trust-remote-code`, on a node other accounts may share), so it gets only what
 * engines need: an allowlist of names and `PREFIX_*` patterns, the defaults below plus
 * `scheduler.modelServerEnv`. Whatever the list says, the service's own variables are never
 * passed (`DATABASE_URL`, `REDIS_URL`, `SWITCHYARD_*` but for the cache directory, and the names
 * the config reads secrets from).
 */

import type { EngineAdapterOptions } from "./types";

/** What engines, Python, CUDA and the Hugging Face libraries read. */
export const DEFAULT_MODEL_SERVER_ENV: readonly string[] = [
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "SHELL",
  "LANG",
  "LANGUAGE",
  "LC_*",
  "TZ",
  "TMPDIR",
  "XDG_CACHE_HOME",
  "LD_LIBRARY_PATH",
  "PYTHONPATH",
  "PYTHONHOME",
  "VIRTUAL_ENV",
  "CONDA_*",
  "CUDA_*",
  "NVIDIA_*",
  "NCCL_*",
  "ROCR_VISIBLE_DEVICES",
  "HIP_VISIBLE_DEVICES",
  "OMP_NUM_THREADS",
  "HF_*",
  "HUGGING_FACE_HUB_*",
  "TRANSFORMERS_*",
  "TORCH_*",
  "VLLM_*",
  "OLLAMA_*",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
  "REQUESTS_CA_BUNDLE",
  "NODE_EXTRA_CA_CERTS",
  "SWITCHYARD_CACHE_DIR",
];

/** Never passed to a model server, whatever the allowlist says. */
const SERVICE_ONLY = new Set(["DATABASE_URL", "REDIS_URL"]);
const SERVICE_PREFIX = "SWITCHYARD_";
const SERVICE_PREFIX_ALLOWED = new Set(["SWITCHYARD_CACHE_DIR"]);

function matches(name: string, pattern: string): boolean {
  return pattern.endsWith("*") ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

/** Is `name` one of the service's own variables (never given to a model server)? */
export function isServiceVariable(name: string, secretNames: ReadonlySet<string> = new Set()): boolean {
  if (SERVICE_ONLY.has(name) || secretNames.has(name)) return true;
  return name.startsWith(SERVICE_PREFIX) && !SERVICE_PREFIX_ALLOWED.has(name);
}

/**
 * The part of `source` a model server may see: the names `allow` lists (exact names, or
 * prefixes ending in `*`), less the service's own variables and `secretNames` (the variables
 * the config reads secrets from, e.g. an external model's `apiKeyEnv`).
 */
export function modelServerEnvironment(
  source: NodeJS.ProcessEnv,
  allow: readonly string[] = DEFAULT_MODEL_SERVER_ENV,
  secretNames: ReadonlySet<string> = new Set(),
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(source)) {
    if (value === undefined || isServiceVariable(name, secretNames)) continue;
    if (allow.some((pattern) => matches(name, pattern))) out[name] = value;
  }
  return out;
}

/** The inherited part of a model server's environment under the launcher's engine options. */
export function inheritedEnvironment(
  options: Pick<EngineAdapterOptions, "modelServerEnv" | "secretEnvNames">,
  source: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  return modelServerEnvironment(
    source,
    options.modelServerEnv ?? DEFAULT_MODEL_SERVER_ENV,
    new Set(options.secretEnvNames ?? []),
  );
}
