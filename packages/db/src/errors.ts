/**
 * Start-up failures a user can fix. Their messages are one line, shown as they are by the CLI
 * (no stack trace): they name the host, the directory or the process at fault.
 */
export class DatabaseOpenError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DatabaseOpenError";
  }
}

/** Another process (usually `switchyard serve`) holds the embedded data dir. */
export class DataDirLockedError extends DatabaseOpenError {
  constructor(
    readonly dataDir: string,
    readonly holder: DataDirHolder,
  ) {
    super(
      `the data dir ${dataDir} is in use by '${holder.command}' (pid ${holder.pid}${holder.url ? `, ${holder.url}` : ""}); embedded PGlite serves one process at a time`,
    );
    this.name = "DataDirLockedError";
  }
}

export interface DataDirHolder {
  pid: number;
  hostname: string;
  command: string;
  startedAt: string;
  /** Where the holder serves HTTP, once it knows. */
  url?: string;
}
