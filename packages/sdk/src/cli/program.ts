import { Command, CommanderError, Option } from "commander";
import { APIError, OAuthError } from "../errors";
import { CliContext, EXIT } from "./context";
import { explain, explainWithSuggestion } from "./explain";
import { Output, wrapText } from "./output";
import { VERSION } from "./version";

export { explain } from "./explain";
export { VERSION } from "./version";

type Register = (program: Command, run: Run) => void;

/**
 * Each command's module, loaded only when it runs: `sy models` reads none of chat's, batch's or
 * login's code. Help, `sy help` and an unknown command load them all.
 */
const auth = async (): Promise<Register> => (await import("./commands/auth")).registerAuth;
const models = async (): Promise<Register> => (await import("./commands/models")).registerModels;
const chat = async (): Promise<Register> => (await import("./commands/chat")).registerChat;
const keys = async (): Promise<Register> => (await import("./commands/keys")).registerKeys;
const batch = async (): Promise<Register> => (await import("./commands/batch")).registerBatch;
const ALL = [auth, models, chat, keys, batch];
const COMMAND_MODULES: Record<string, () => Promise<Register>> = {
  login: auth,
  logout: auth,
  whoami: auth,
  token: auth,
  expires: auth,
  models,
  endpoints: models,
  jobs: models,
  chat,
  embed: chat,
  keys,
  batch,
};
/** The global options that take a value (the command name comes after them). */
const GLOBAL_WITH_VALUE = new Set(["--server", "--api-key"]);

/** The command an argument list names (the first word that is not a global option or its value). */
export function commandName(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (GLOBAL_WITH_VALUE.has(arg)) i++;
    else if (!arg.startsWith("-")) return arg;
  }
  return undefined;
}

const HELP_FOOTER = `
Server and credentials (every command):
  --server URL or SWITCHYARD_URL         default: the server of the last 'sy login', else http://127.0.0.1:8080
  --api-key KEY or SWITCHYARD_API_KEY    default: the login stored by 'sy login'
  Logins are kept in $XDG_CONFIG_HOME/switchyard/tokens.json (~/.config/switchyard/tokens.json), one per server.

Output: tables and colour on a terminal; tab-separated lines when piped.
--json for machine output (no colour, no progress). NO_COLOR turns colour off.

Exit codes:
  0    success
  1    other failure (bad arguments, a damaged token file, a server error; a batch rejected, failed, expired or cancelled)
  2    not logged in, or the credentials were refused (401, 403; a login denied, expired or for another identity)
  3    the server could not be reached
  4    not found (an unknown model, cluster, key, batch, ...)
  5    rate limited (or one active batch already), the model was still not ready after waiting, a batch's results not there yet
  130  interrupted (Ctrl-C; a running request is cancelled on the server)
`;

/** Wraps a command's handler: builds its context, turns its errors into a message and an exit code. */
export type Run = <O>(
  handler: (ctx: CliContext, options: O, ...args: never[]) => Promise<void>,
) => (...args: unknown[]) => Promise<void>;

export interface CliStreams {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

/** The program with the commands `argv` needs (every command when `argv` is not given). */
export async function buildProgram(
  streams: CliStreams,
  exit: { code: number },
  argv?: readonly string[],
): Promise<Command> {
  const helpOut = new Output(streams.stdout, false, streams.env);
  const helpErr = new Output(streams.stderr, false, streams.env);
  const program = new Command("sy")
    .description(
      "Switchyard from a terminal: log in, check which models are live, chat, embed, run batches, manage API keys",
    )
    .version(VERSION, "-v, --version")
    .addOption(new Option("--server <url>", "the Switchyard server").env("SWITCHYARD_URL"))
    .addOption(new Option("--api-key <key>", "an API key to use instead of the stored login").env("SWITCHYARD_API_KEY"))
    .option("--json", "machine output: JSON, no colour, no progress")
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError("(sy --help lists the commands)")
    .exitOverride()
    .configureOutput({
      writeOut: (text) => streams.stdout.write(text),
      writeErr: (text) => streams.stderr.write(text),
      // The help fits the terminal as tables do: COLUMNS when set, else the terminal's width.
      getOutHelpWidth: () => helpOut.columns ?? 80,
      getErrHelpWidth: () => helpErr.columns ?? 80,
    })
    .addHelpText("after", () => (helpOut.columns ? wrapText(HELP_FOOTER, helpOut.columns) : HELP_FOOTER));

  const run: Run =
    (handler) =>
    async (...args: unknown[]) => {
      const command = args.at(-1) as Command;
      const options = args.at(-2);
      const positional = args.slice(0, -2);
      let ctx: CliContext | undefined;
      try {
        ctx = new CliContext(command, streams.env, streams.stdin, streams.stdout, streams.stderr);
        await (handler as (ctx: CliContext, options: unknown, ...rest: unknown[]) => Promise<void>)(
          ctx,
          options,
          ...positional,
        );
      } catch (error) {
        const { code, message } = await explainWithSuggestion(error, ctx);
        if (ctx?.json && code !== EXIT.interrupted) {
          streams.stderr.write(`${JSON.stringify({ error: { message, exit_code: code, ...codeOf(error) } })}\n`);
        } else {
          streams.stderr.write(`sy: ${message}\n`);
        }
        exit.code = code;
      }
    };

  const name = argv ? commandName(argv) : undefined;
  const one = name ? COMMAND_MODULES[name] : undefined;
  for (const register of await Promise.all((one ? [one] : ALL).map((load) => load()))) register(program, run);
  return program;
}

function codeOf(error: unknown): { code?: string; status?: number } {
  if (error instanceof APIError) return { ...(error.code ? { code: error.code } : {}), status: error.status };
  if (error instanceof OAuthError) return { code: error.error, status: error.status };
  return {};
}

/** Run `sy` with these arguments; resolves with the exit code. */
export async function runCli(argv: string[], streams: CliStreams): Promise<number> {
  const exit = { code: EXIT.ok as number };
  const program = await buildProgram(streams, exit, argv);
  if (argv.length === 0) {
    program.outputHelp();
    return EXIT.ok;
  }
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version "fail" with code 0; anything else commander rejects is a usage error.
      return error.exitCode === 0 ? EXIT.ok : EXIT.failure;
    }
    const { code, message } = explain(error, undefined);
    streams.stderr.write(`sy: ${message}\n`);
    return code;
  }
  return exit.code;
}
