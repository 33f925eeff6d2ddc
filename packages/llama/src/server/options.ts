import { formatPath } from "@switchyard/core";
import { z } from "zod";

/** llama-server's own variable for its key: one name works for either llama.cpp server. */
export const API_KEY_ENV = "LLAMA_API_KEY";

/** What the llama.cpp engine server serves and how. */
export const LlamaServerOptionsSchema = z.strictObject({
  /** A GGUF file, or a generated test model (`generated:tiny-chat`), written to the cache on first use. */
  model: z.string().min(1),
  /** The model id clients name in `model` (default: the file's name without `.gguf`); other ids get 404. */
  alias: z.string().min(1).max(256).optional(),
  host: z.string().min(1).default("127.0.0.1"),
  /** 0: an ephemeral port. */
  port: z.int().min(0).max(65535).default(0),
  /** `/v1/*` then needs `Authorization: Bearer <key>`. */
  apiKey: z.string().min(1).optional(),
  /** Context window of each sequence, in tokens (default: the model's, at most 4096). */
  ctx: z.int().min(64).optional(),
  /** Sequences generated at once; more requests wait in a FIFO queue (llama-server's --parallel). */
  parallel: z.int().min(1).max(256).default(4),
  /** CPU threads for evaluation (default: node-llama-cpp's choice, the machine's math cores). */
  threads: z.int().min(1).max(1024).optional(),
  /** `none`: CPU only; `cuda`: the CUDA build (fails if it is not installed); `auto`: the best one installed. */
  gpu: z.enum(["auto", "cuda", "none"]).default("auto"),
  /** Where generated models are cached (default: `$SWITCHYARD_CACHE_DIR/gguf`, else `~/.cache/switchyard/gguf`). */
  cacheDir: z.string().min(1).optional(),
  /** `debug` adds one line per request and llama.cpp's own warnings. */
  logLevel: z.enum(["debug", "info", "silent"]).default("info"),
});

export type LlamaServerOptions = z.output<typeof LlamaServerOptionsSchema>;
export type LlamaServerOptionsInput = z.input<typeof LlamaServerOptionsSchema>;

/** Options that do not validate; `problems` names each bad flag. */
export class LlamaServerOptionsError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid llama.cpp engine options: ${problems.join("; ")}`);
    this.name = "LlamaServerOptionsError";
  }
}

const FLAG_OF: Record<string, string> = {
  model: "--model",
  alias: "--alias",
  host: "--host",
  port: "--port",
  apiKey: "--api-key",
  ctx: "--ctx",
  parallel: "--parallel",
  threads: "--threads",
  gpu: "--gpu",
  cacheDir: "--cache-dir",
  logLevel: "--log-level",
};

function problemsOf(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const key = String(issue.path[0] ?? "");
    return `${FLAG_OF[key] ?? (formatPath(issue.path) || "options")}: ${issue.message}`;
  });
}

export function parseLlamaServerOptions(input: LlamaServerOptionsInput): LlamaServerOptions {
  const result = LlamaServerOptionsSchema.safeParse(input);
  if (result.success) return result.data;
  throw new LlamaServerOptionsError(problemsOf(result.error));
}

/** The `switchyard engine llama-cpp` flags as commander gives them (strings, camelCase). */
export interface LlamaServerFlags {
  model?: string;
  alias?: string;
  host?: string;
  port?: string;
  apiKey?: string;
  ctx?: string;
  parallel?: string;
  threads?: string;
  gpu?: string;
  cacheDir?: string;
  logLevel?: string;
}

const INTEGER_FLAGS = new Set(["port", "ctx", "parallel", "threads"]);

/**
 * Command-line strings to options; the key comes from `--api-key`, else `LLAMA_API_KEY` (so it
 * need not appear in the process list).
 */
export function llamaServerOptionsFromFlags(
  flags: LlamaServerFlags,
  env: NodeJS.ProcessEnv = process.env,
): LlamaServerOptions {
  const problems: string[] = [];
  const input: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(flags)) {
    if (value === undefined) continue;
    if (INTEGER_FLAGS.has(key)) {
      if (!/^\d+$/.test(value)) problems.push(`${FLAG_OF[key]}: expected a whole number, got '${value}'`);
      else input[key] = Number(value);
    } else {
      input[key] = value;
    }
  }
  if (input.apiKey === undefined && env[API_KEY_ENV]) input.apiKey = env[API_KEY_ENV];
  const result = LlamaServerOptionsSchema.safeParse(input);
  if (result.success && problems.length === 0) return result.data;
  throw new LlamaServerOptionsError([...problems, ...(result.success ? [] : problemsOf(result.error))]);
}
