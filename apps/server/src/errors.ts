/**
 * Errors the CLI explains in one line (no stack trace). Kept apart from the modules that throw
 * them so the CLI can recognise them without loading the whole server: `switchyard simulator`
 * and `switchyard batch-worker` processes load only what they run.
 */
export class ListenError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ListenError";
  }
}

export class RedisConnectError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RedisConnectError";
  }
}
