import { createServiceLoggers, type ServiceLoggers } from "@switchyard/http";
import { type DestinationStream, type Logger, pino } from "pino";
import pretty from "pino-pretty";

export type { Logger };

export interface LoggerOptions {
  level?: string;
  /** Human-readable lines (default when stdout is a terminal) instead of JSON. */
  pretty?: boolean;
  destination?: NodeJS.WritableStream;
}

export interface Loggers extends ServiceLoggers {
  /** Write out what is buffered (at shutdown). */
  flush(): Promise<void>;
}

/**
 * JSON lines to stdout through a buffered, asynchronous destination (one write syscall per
 * few kilobytes, not per line: the per-request log line was measured to halve throughput when
 * written synchronously), flushed at least every second, or pretty lines on a terminal.
 */
export function createLoggers(options: LoggerOptions = {}): Loggers {
  const level = options.level ?? process.env.SWITCHYARD_LOG_LEVEL ?? "info";
  const usePretty = options.pretty ?? (process.stdout.isTTY === true && process.env.SWITCHYARD_LOG_FORMAT !== "json");
  let destination: DestinationStream;
  let flush = async () => {};
  if (usePretty) {
    destination = pretty({
      destination: options.destination ?? process.stdout,
      colorize: true,
      ignore: "pid,hostname,service",
      sync: true,
    });
  } else if (options.destination) {
    destination = options.destination as DestinationStream;
  } else {
    const boom = pino.destination({ dest: 1, sync: false, minLength: 8192 });
    destination = boom;
    flush = () =>
      new Promise<void>((resolve) => {
        boom.flush(() => resolve());
      });
    // Buffered lines reach stdout within a second even when traffic is low (a 3 a.m. error
    // must not wait for 8 KB of company); under load the buffer fills first.
    const ticker = setInterval(() => {
      try {
        boom.flush();
      } catch {
        // a write is in flight; the next tick flushes
      }
    }, 1000);
    ticker.unref();
    // Last resort when the process exits without a clean shutdown.
    process.once("exit", () => {
      try {
        boom.flushSync();
      } catch {
        // an asynchronous write is still in flight; nothing more can be done here
      }
    });
  }
  return { ...createServiceLoggers(level, destination), flush };
}

/** The redacting logger alone (commands, tests). */
export function createLogger(options: LoggerOptions = {}): Logger {
  return createLoggers(options).logger;
}
