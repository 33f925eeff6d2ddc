import { type Command, Option } from "commander";
import type { CliIO } from "../cli-io";
import type { RunningServer } from "../server";
import { configOption, DEFAULT_HOST, DEFAULT_PORT, dataDirOption, parsePort, resolveDataDir } from "./options";

interface ServeFlags {
  port: number;
  host: string;
  dataDir: string;
  config?: string;
}

/**
 * Resolves when the server has stopped after SIGINT/SIGTERM; a second signal forces exit.
 * The handlers are installed before anything starts: a signal that arrives while the server is
 * still starting (or in the instant after "Switchyard is up" reaches a supervisor) must stop it
 * cleanly, not kill it with the default action and leave simulators behind.
 */
async function serve(flags: ServeFlags, io: CliIO): Promise<void> {
  let running: RunningServer | undefined;
  let stopping = false;
  let stopped!: () => void;
  const done = new Promise<void>((resolve) => {
    stopped = resolve;
  });
  const shutdown = (server: RunningServer) =>
    void server
      .close()
      .catch((error) => io.err(`switchyard: shutdown failed: ${(error as Error).message}\n`))
      .finally(stopped);
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      io.err(`second ${signal}: exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    if (running) {
      running.ctx.logger.info({ signal }, "shutting down");
      shutdown(running);
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  // Loaded here, not at the top: the other commands (simulator, batch-worker) never need it.
  const { startServer } = await import("../server");
  running = await startServer({
    port: flags.port,
    host: flags.host,
    dataDir: resolveDataDir(flags.dataDir),
    configFile: flags.config,
    env: io.env,
    buildDashboard: true,
    onAdminCreated: (admin) => {
      // Shown once, on the terminal only (never through the logger).
      io.err(
        admin.generated
          ? `\nCreated the first admin user 'admin' with password: ${admin.password}\n(shown only now; set SWITCHYARD_ADMIN_PASSWORD before the first start to choose it)\n`
          : "\nCreated the first admin user 'admin' with the password from SWITCHYARD_ADMIN_PASSWORD.\n",
      );
    },
  });
  if (stopping) {
    // A signal came while starting: stop now that there is something to stop.
    running.ctx.logger.info("signal received while starting; shutting down");
    shutdown(running);
    return done;
  }
  const url = running.url;
  io.err(
    `\nSwitchyard is up: ${url}\n` +
      `  dashboard: ${url}/admin (sign in as admin)\n` +
      `  sign in:  curl -s ${url}/auth/token -d grant_type=password -d username=admin -d password=... | jq -r .access_token\n` +
      `  models:   curl -H "Authorization: Bearer $TOKEN" ${url}/v1/models\n` +
      `  devices:  ${url}/device (approves 'sy login')\n` +
      `  health:   curl ${url}/health\n` +
      "  stop:     Ctrl-C\n\n",
  );
  return done;
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
