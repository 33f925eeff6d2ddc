import { readFile } from "node:fs/promises";
import path from "node:path";
import {
  type ConfigProblem,
  defaultConfigInput,
  parseConfigText,
  type SwitchyardConfig,
  validateConfig,
} from "@switchyard/core";

export const BUILT_IN_CATALOG = "built-in catalog (simulated Sophia)";

export interface LoadedConfig {
  config: SwitchyardConfig;
  /** The file it came from, or the built-in catalog. */
  source: string;
}

export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: ConfigProblem[],
  ) {
    super(formatProblems(source, problems));
    this.name = "ConfigError";
  }
}

/** One line per problem: `file:line: models[0].id: required (expected string)`. */
export function formatProblems(source: string, problems: ConfigProblem[]): string {
  const lines = problems.map((p) => {
    const where = p.line === undefined ? source : `${source}:${p.line}`;
    return `  ${where}: ${p.path || "(file)"}: ${p.message}`;
  });
  return `invalid config (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${lines.join("\n")}`;
}

/** Read and validate a config file; every problem is collected, none is fixed silently. */
export async function readConfigFile(file: string): Promise<LoadedConfig> {
  const source = path.resolve(file);
  let text: string;
  try {
    text = await readFile(source, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : String(code ?? error);
    throw new ConfigError(source, [{ path: "", message: `cannot read the config file: ${reason}` }]);
  }
  const result = parseConfigText(text);
  if (!result.ok) throw new ConfigError(source, result.problems);
  return { config: result.config, source };
}

/** `--config FILE`, else `SWITCHYARD_CONFIG`, else the built-in catalog. */
export async function loadConfig(
  file: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<LoadedConfig> {
  const chosen = file ?? env.SWITCHYARD_CONFIG;
  if (chosen) return readConfigFile(chosen);
  const result = validateConfig(defaultConfigInput());
  if (!result.ok) throw new ConfigError(BUILT_IN_CATALOG, result.problems);
  return { config: result.config, source: BUILT_IN_CATALOG };
}
