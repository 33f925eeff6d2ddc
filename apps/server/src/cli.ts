import { SwitchyardError } from "@switchyard/core";
import { DatabaseOpenError, DataDirLockedError } from "@switchyard/db/errors";
import { Command, CommanderError } from "commander";
import { CliError, type CliIO, EXIT, processIO } from "./cli-io";
import { registerAdmin } from "./commands/admin";
import { registerBatchWorker } from "./commands/batch-worker";
import { registerConfig } from "./commands/config";
import { registerEngine } from "./commands/engine";
import { registerMigrate } from "./commands/migrate";
import { registerServe } from "./commands/serve";
import { registerSimulator } from "./commands/simulator";
import { registerSimulatorHost } from "./commands/simulator-host";
import { registerTrace } from "./commands/trace";
import { ConfigError } from "./config";
import { VERSION } from "./context";
import { ListenError, RedisConnectError } from "./errors";

export function buildProgram(io: CliIO): Command {
  const program = new Command("switchyard")
    .description("Switchyard: one OpenAI-compatible front door to the models on a GPU cluster")
    .version(VERSION, "-v, --version")
    .exitOverride()
    .showHelpAfterError()
    .configureOutput({ writeOut: io.out, writeErr: io.err });
  program.addHelpText("after", "\nExit codes: 0 success, 1 failure, 2 usage error.\n");
  registerServe(program, io);
  registerBatchWorker(program, io);
  registerMigrate(program, io);
  registerConfig(program, io);
  registerAdmin(program, io);
  registerSimulator(program, io);
  registerSimulatorHost(program, io);
  registerEngine(program, io);
  registerTrace(program, io);
  return program;
}

function explain(error: unknown): string {
  if (error instanceof DataDirLockedError) {
    const where = error.holder.url ? ` at ${error.holder.url}` : "";
    return `${error.message}. Stop it first, or use the running server${where} (it migrated the database at start).`;
  }
  return (error as Error).message;
}

/** Run the CLI; resolves with the exit code (serve resolves after shutdown). */
export async function runCli(argv: string[], io: CliIO = processIO): Promise<number> {
  const program = buildProgram(io);
  // Commander answers `--help` before it looks at the command, so `switchyard gatway --help`
  // would print the top-level help and exit 0: a typo must say so and exit 2 with or without it.
  const named = argv.find((arg) => !arg.startsWith("-"));
  if (named !== undefined && named !== "help" && !program.commands.some((c) => c.name() === named)) {
    io.err(`error: unknown command '${named}'\n\n`);
    program.outputHelp({ error: true });
    return EXIT.usage;
  }
  try {
    await program.parseAsync(argv, { from: "user" });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version "fail" with exit code 0; everything else commander rejects is usage.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (
      error instanceof CliError ||
      error instanceof ConfigError ||
      error instanceof DatabaseOpenError ||
      error instanceof ListenError ||
      error instanceof RedisConnectError ||
      error instanceof SwitchyardError
    ) {
      io.err(`switchyard: ${explain(error)}\n`);
      return error instanceof CliError ? error.exitCode : EXIT.failure;
    }
    io.err(`switchyard: unexpected error: ${(error as Error)?.stack ?? error}\n`);
    return EXIT.failure;
  }
}
