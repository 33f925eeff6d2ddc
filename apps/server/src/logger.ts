import { type Logger, pino } from "pino";
import pretty from "pino-pretty";

export type { Logger };

export interface LoggerOptions {
  level?: string;
  /** Human-readable lines (default when stdout is a terminal) instead of JSON. */
  pretty?: boolean;
  destination?: NodeJS.WritableStream;
}

/** Secrets never reach a log line, whatever a caller passes in. */
export const REDACTED_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  "*.password",
  "*.token",
  "*.access_token",
  "*.refresh_token",
  "*.apiKey",
  "*.api_key",
  "*.key",
  "*.secret",
];

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.SWITCHYARD_LOG_LEVEL ?? "info";
  const base = { level, redact: { paths: REDACTED_PATHS, censor: "[redacted]" }, base: { service: "switchyard" } };
  const destination = options.destination ?? process.stdout;
  const usePretty = options.pretty ?? (process.stdout.isTTY === true && process.env.SWITCHYARD_LOG_FORMAT !== "json");
  if (usePretty) {
    return pino(base, pretty({ destination, colorize: true, ignore: "pid,hostname,service", sync: true }));
  }
  return pino(base, destination as pino.DestinationStream);
}
