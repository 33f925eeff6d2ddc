import { type DestinationStream, type Logger, pino } from "pino";

/** Secrets never reach a log line, whatever a caller passes in. */
export const REDACTED_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  "*.password",
  "*.token",
  "*.access_token",
  "*.refresh_token",
  "*.device_code",
  "*.apiKey",
  "*.serverKey",
  "*.api_key",
  "*.key",
  "*.secret",
];

export interface ServiceLoggers {
  /** For everything the code logs: secrets are redacted. */
  logger: Logger;
  /** The one line per request: fields chosen by the server (never headers or bodies), so no redaction pass. */
  access: Logger;
}

/**
 * The server's two loggers over one destination. Here rather than in the server so that every
 * package's tests can log exactly as the server does (and check what reaches the log).
 */
export function createServiceLoggers(level: string, destination: DestinationStream): ServiceLoggers {
  const base = { service: "switchyard" };
  return {
    logger: pino({ level, base, redact: { paths: REDACTED_PATHS, censor: "[redacted]" } }, destination),
    access: pino({ level, base }, destination),
  };
}
