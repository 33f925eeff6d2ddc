import { type Command, Option } from "commander";
import type { CliIO } from "../cli-io";
import { startServer } from "../server";
import { configOption, DEFAULT_HOST, DEFAULT_PORT, dataDirOption, parsePort, resolveDataDir } from "./options";

interface ServeFlags {
  port: number;
  host: string;
  dataDir: string;
  config?: string;
}

/** Resolves when the server has stopped after SIGINT/SIGTERM; a second signal forces exit. */
async function serve(flags: ServeFlags, io: CliIO): Promise<void> {
  const running = await startServer({
    port: flags.port,
    host: flags.host,
    dataDir: resolveDataDir(flags.dataDir),
    configFile: flags.config,
    env: io.env,
  });
  io.err(
    `\nSwitchyard is up: ${running.url}\n` +
      `  models:  curl ${running.url}/v1/models\n` +
      `  health:  curl ${running.url}/health\n` +
      "  stop:    Ctrl-C\n\n",
  );
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        io.err(`second ${signal}: exiting now\n`);
        process.exit(1);
      }
      stopping = true;
      running.ctx.logger.info({ signal }, "shutting down");
      void running.close().then(resolve);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}

export function registerServe(program: Command, io: CliIO): void {
  program
    .command("serve")
    .description("run Switchyard in one process: migrate the database, then serve the API")
    .addOption(
      new Option("--port <n>", "port to listen on (0: any free port)")
        .env("SWITCHYARD_PORT")
        .default(DEFAULT_PORT)
        .argParser(parsePort),
    )
    .addOption(new Option("--host <host>", "address to listen on").env("SWITCHYARD_HOST").default(DEFAULT_HOST))
    .addOption(dataDirOption())
    .addOption(configOption())
    .action(async (flags: ServeFlags) => serve(flags, io));
}
