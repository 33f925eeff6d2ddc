import { type Command, Option } from "commander";
import type { CliIO } from "../cli-io";
import { runUntilSignal } from "./lifecycle";
import { configOption, DEFAULT_HOST, DEFAULT_PORT, dataDirOption, parsePort, resolveDataDir } from "./options";

interface ServeFlags {
  port: number;
  host: string;
  dataDir: string;
  config?: string;
}

/** Resolves when the server has stopped after SIGINT/SIGTERM; a second signal forces exit. */
async function serve(flags: ServeFlags, io: CliIO): Promise<void> {
  await runUntilSignal(
    io,
    async () => {
      // Loaded here, not at the top: the other commands (simulator, batch-worker) never need it.
      const { startServer } = await import("../server");
      return startServer({
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
    },
    {
      stopping: (running, signal) => running.ctx.logger.info({ signal }, "shutting down"),
      started: (running) => {
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
      },
    },
  );
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
