/** Where a command writes, so tests can run the CLI in-process and read what it printed. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
}

export const processIO: CliIO = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
};

/** Exit codes of the `switchyard` command. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** A failure the user can fix: printed as one line, no stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
  ) {
    super(message);
    this.name = "CliError";
  }
}
