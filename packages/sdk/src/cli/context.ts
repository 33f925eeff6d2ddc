import type { Command } from "commander";
import { Switchyard } from "../node/client";
import { defaultTokenPath, TokenStore } from "../node/token-store";
import { normalizeServer } from "../server-url";
import { Output } from "./output";

/** Exit codes of `sy` (shown in `sy --help`; scripts rely on them). */
export const EXIT = {
  ok: 0,
  failure: 1,
  /** Not logged in, or the server refused the credentials (401, 403), or a login that failed. */
  auth: 2,
  unreachable: 3,
  notFound: 4,
  /** Rate limited, or the model was still not ready after waiting. */
  unavailable: 5,
  /** Ctrl-C (128 + SIGINT, the shell's convention). */
  interrupted: 130,
} as const;

/** A failure already explained for the user: printed as it is, no stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** The reason of the abort Ctrl-C causes. */
export class Interrupted extends Error {
  constructor() {
    super("Interrupted");
    this.name = "AbortError";
  }
}

export interface GlobalOptions {
  server?: string;
  apiKey?: string;
  json?: boolean;
}

/** What every command needs: its options, where to write, the client. */
export class CliContext {
  readonly out: Output;
  readonly err: Output;
  readonly store: TokenStore;
  private readonly options: GlobalOptions;

  private interrupt: AbortController | undefined;

  constructor(
    command: Command,
    readonly env: NodeJS.ProcessEnv,
    readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean },
    stdout: NodeJS.WritableStream & { isTTY?: boolean },
    stderr: NodeJS.WritableStream & { isTTY?: boolean },
  ) {
    this.options = command.optsWithGlobals<GlobalOptions>();
    this.out = new Output(stdout, this.json, env);
    this.err = new Output(stderr, this.json, env);
    this.store = new TokenStore(defaultTokenPath(env));
  }

  /**
   * Aborted by Ctrl-C. A command that reads it takes over SIGINT: its requests are aborted (the
   * server sees the connection close and cancels the work), and it exits with 130.
   */
  get signal(): AbortSignal {
    if (!this.interrupt) {
      const controller = new AbortController();
      this.interrupt = controller;
      process.once("SIGINT", () => controller.abort(new Interrupted()));
    }
    return this.interrupt.signal;
  }

  /** Whether Ctrl-C was pressed (without taking over SIGINT). */
  get interrupted(): boolean {
    return this.interrupt?.signal.aborted ?? false;
  }

  get json(): boolean {
    return this.options.json === true;
  }

  /** --server, else SWITCHYARD_URL, else the server of the last `sy login`, else the default. */
  get explicitServer(): string | undefined {
    const server = this.options.server ?? this.env.SWITCHYARD_URL;
    return server ? normalizeServer(server) : undefined;
  }

  get apiKey(): string | undefined {
    const key = this.options.apiKey ?? this.env.SWITCHYARD_API_KEY;
    return key?.trim() ? key.trim() : undefined;
  }

  /** A client with the command's credentials (the API key when one is given, else the stored login). */
  client(): Switchyard {
    return new Switchyard({ baseURL: this.explicitServer, apiKey: this.apiKey, tokenStore: this.store, env: this.env });
  }

  /** A client that uses the stored login only (login, logout, token): API keys play no part there. */
  loginClient(): Switchyard {
    return new Switchyard({
      baseURL: this.explicitServer,
      apiKey: "",
      tokenStore: this.store,
      env: { ...this.env, SWITCHYARD_API_KEY: "" },
    });
  }

  /** Progress and status lines for people (stderr), never in --json mode. */
  note(text: string): void {
    if (!this.json) this.err.para(text);
  }
}
