import { CapabilitySchema, DurationSchema, formatPath, parseDuration } from "@switchyard/core";
import { z } from "zod";

/** What the simulator serves and how it behaves. Durations are seconds (or strings like `2s`, `50ms`). */
export const SimulatorOptionsSchema = z
  .strictObject({
    /** The model id it serves; requests naming another model get 404. */
    model: z.string().min(1),
    host: z.string().min(1).default("127.0.0.1"),
    /** 0: an ephemeral port. */
    port: z.int().min(0).max(65535).default(0),
    capabilities: z.array(CapabilitySchema).min(1).default(["chat", "completions"]),
    /** Seconds from start until `/health` answers 200; until then everything but /metrics answers 503. */
    loadTime: DurationSchema.default(0),
    timeToFirstToken: DurationSchema.default(0.05),
    /** Per sequence, whatever the load. */
    tokensPerSecond: z.number().positive().default(40),
    /** Sequences (requests) generated at once; more wait in a FIFO queue, as in vLLM. */
    maxConcurrency: z.int().positive().default(256),
    embeddingDimensions: z.int().positive().max(65536).default(1024),
    /** Context length: prompt + max_tokens above it is a 400, as in vLLM. */
    maxModelLen: z.int().positive().default(32768),
    seed: z.int().default(0),
    /** `fast`: no time to first token and no per-token delay (for gateway benchmarks). */
    profile: z.enum(["realistic", "fast"]).default("realistic"),
    /** Share of inference requests answered with `failStatus`, decided by a PRNG seeded with `seed`. */
    failRate: z.number().min(0).max(1).default(0),
    failStatus: z.int().min(400).max(599).default(500),
    /** Exit (non-zero) once this many inference requests have been answered. */
    crashAfterRequests: z.int().positive().optional(),
    /** Exit (non-zero) this long after start. */
    crashAfter: DurationSchema.optional(),
    /**
     * Hang after this many inference requests: later ones are accepted and never answered (the
     * connection stays open), while `/health` still answers 200, as an engine stuck in its GPU
     * work does. For `hangFor`, then it answers again; the requests it swallowed stay unanswered.
     */
    hangAfterRequests: z.int().nonnegative().optional(),
    /** How long a hang lasts (default: until the process ends). */
    hangFor: DurationSchema.optional(),
    /** `max_tokens` of /v1/completions when the request gives none (16, as OpenAI and vLLM). */
    defaultMaxTokens: z.int().positive().default(16),
    /** Length range of an answer that is not cut by max_tokens: each request draws one from its seed. */
    answerTokens: z
      .strictObject({ min: z.int().nonnegative(), max: z.int().nonnegative() })
      .refine((r) => r.min <= r.max, "min must not exceed max")
      .default({ min: 16, max: 48 }),
    /** `debug` adds one log line per request. */
    logLevel: z.enum(["debug", "info", "silent"]).default("info"),
    /**
     * Like vLLM's `--api-key`: `/v1/*` then needs `Authorization: Bearer <key>` (401 otherwise).
     * The command reads it from `SWITCHYARD_SIMULATOR_API_KEY` when the flag is not given.
     */
    apiKey: z.string().min(1).optional(),
  })
  .superRefine((options, ctx) => {
    const needsAnEndpoint = options.capabilities.some((c) => c === "chat" || c === "completions" || c === "embedding");
    if (!needsAnEndpoint) {
      ctx.addIssue({
        code: "custom",
        path: ["capabilities"],
        message: "needs at least one of chat, completions, embedding",
      });
    }
  });

export type SimulatorOptions = z.output<typeof SimulatorOptionsSchema>;
export type SimulatorOptionsInput = z.input<typeof SimulatorOptionsSchema>;

/** Options that do not validate; the message names each bad one. */
export class SimulatorOptionsError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid simulator options: ${problems.join("; ")}`);
    this.name = "SimulatorOptionsError";
  }
}

/** Validate options, or throw a SimulatorOptionsError naming every bad one. */
export function parseSimulatorOptions(input: SimulatorOptionsInput): SimulatorOptions {
  const result = SimulatorOptionsSchema.safeParse(input);
  if (result.success) return result.data;
  throw new SimulatorOptionsError(
    result.error.issues.map((issue) => `${formatPath(issue.path) || "options"}: ${issue.message}`),
  );
}

/** The `switchyard simulator` flags, as strings from the command line (camelCase as commander gives them). */
export interface SimulatorFlags {
  model?: string;
  host?: string;
  port?: string;
  capabilities?: string;
  loadTime?: string;
  ttft?: string;
  tokensPerSecond?: string;
  maxConcurrency?: string;
  embeddingDimensions?: string;
  maxModelLen?: string;
  seed?: string;
  profile?: string;
  failRate?: string;
  failStatus?: string;
  crashAfterRequests?: string;
  crashAfter?: string;
  hangAfterRequests?: string;
  hangFor?: string;
  defaultMaxTokens?: string;
  answerTokens?: string;
  logLevel?: string;
  apiKey?: string;
}

/** The flag each option comes from, for messages. */
const FLAG_OF: Record<string, string> = {
  model: "--model",
  host: "--host",
  port: "--port",
  capabilities: "--capabilities",
  loadTime: "--load-time",
  timeToFirstToken: "--ttft",
  tokensPerSecond: "--tokens-per-second",
  maxConcurrency: "--max-concurrency",
  embeddingDimensions: "--embedding-dimensions",
  maxModelLen: "--max-model-len",
  seed: "--seed",
  profile: "--profile",
  failRate: "--fail-rate",
  failStatus: "--fail-status",
  crashAfterRequests: "--crash-after-requests",
  crashAfter: "--crash-after",
  hangAfterRequests: "--hang-after-requests",
  hangFor: "--hang-for",
  defaultMaxTokens: "--default-max-tokens",
  answerTokens: "--answer-tokens",
  logLevel: "--log-level",
  apiKey: "--api-key",
};

/**
 * Turn command-line flags into validated options. Durations take `parseDuration`'s forms
 * (`2s`, `50ms`, `1m`, or plain seconds); `--answer-tokens` is `N` or `MIN-MAX`.
 * Throws a SimulatorOptionsError naming each bad flag.
 */
export function simulatorOptionsFromFlags(flags: SimulatorFlags): SimulatorOptions {
  const problems: string[] = [];
  const number = (key: keyof SimulatorFlags, flag: string): number | undefined => {
    const raw = flags[key];
    if (raw === undefined) return undefined;
    const value = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(value)) {
      problems.push(`${flag}: '${raw}' is not a number`);
      return undefined;
    }
    return value;
  };
  const duration = (key: keyof SimulatorFlags, flag: string): number | undefined => {
    const raw = flags[key];
    if (raw === undefined) return undefined;
    const value = parseDuration(/^\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw);
    if (value === undefined) problems.push(`${flag}: '${raw}' is not a duration (use e.g. 500ms, 2s, 1m)`);
    return value;
  };
  const answerTokens = (): { min: number; max: number } | undefined => {
    const raw = flags.answerTokens;
    if (raw === undefined) return undefined;
    const match = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(raw);
    if (!match) {
      problems.push(`--answer-tokens: '${raw}' is not N or MIN-MAX`);
      return undefined;
    }
    const min = Number(match[1]);
    return { min, max: match[2] === undefined ? min : Number(match[2]) };
  };

  const input: Record<string, unknown> = {
    model: flags.model,
    host: flags.host,
    port: number("port", "--port"),
    capabilities: flags.capabilities
      ?.split(",")
      .map((c) => c.trim())
      .filter(Boolean),
    loadTime: duration("loadTime", "--load-time"),
    timeToFirstToken: duration("ttft", "--ttft"),
    tokensPerSecond: number("tokensPerSecond", "--tokens-per-second"),
    maxConcurrency: number("maxConcurrency", "--max-concurrency"),
    embeddingDimensions: number("embeddingDimensions", "--embedding-dimensions"),
    maxModelLen: number("maxModelLen", "--max-model-len"),
    seed: number("seed", "--seed"),
    profile: flags.profile,
    failRate: number("failRate", "--fail-rate"),
    failStatus: number("failStatus", "--fail-status"),
    crashAfterRequests: number("crashAfterRequests", "--crash-after-requests"),
    crashAfter: duration("crashAfter", "--crash-after"),
    hangAfterRequests: number("hangAfterRequests", "--hang-after-requests"),
    hangFor: duration("hangFor", "--hang-for"),
    defaultMaxTokens: number("defaultMaxTokens", "--default-max-tokens"),
    answerTokens: answerTokens(),
    logLevel: flags.logLevel,
    apiKey: flags.apiKey,
  };
  for (const key of Object.keys(input)) if (input[key] === undefined) delete input[key];

  const result = SimulatorOptionsSchema.safeParse(input);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = String(issue.path[0] ?? "");
      const flag = FLAG_OF[key] ?? (formatPath(issue.path) || "flags");
      const value = input[key];
      const shown = Array.isArray(value) ? value.join(",") : value === undefined ? undefined : String(value);
      const message = issue.code === "invalid_type" && value === undefined ? "is required" : issue.message;
      problems.push(shown === undefined ? `${flag} ${message}` : `${flag} '${shown}': ${message}`);
    }
  }
  if (problems.length > 0 || !result.success) throw new SimulatorOptionsError(problems);
  return result.data;
}
