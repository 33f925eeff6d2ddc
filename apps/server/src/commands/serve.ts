import cluster from "node:cluster";
import { type Command, Option } from "commander";
import type { CliIO } from "../cli-io";
import { loadConfig } from "../config";
import type { Logger, Loggers } from "../logger";
import { collectStartupGarbage } from "../memory";
import { type InstanceRole, parseRoles, ROLES, ROLES_HELP } from "../roles";
import type { RunningServer } from "../server";
import { joinPrimaryMetrics, parseWorkers, resolveWorkers, runWorker, startPrimary, workerIndex } from "../workers";
import { runUntilSignal } from "./lifecycle";
import {
  configOption,
  DEFAULT_HOST,
  DEFAULT_PORT,
  dataDirOption,
  parsePort,
  resolveDataDir,
  shownUrl,
} from "./options";

export interface ServeFlags {
  port: number;
  host: string;
  dataDir: string;
  config?: string;
  roles?: InstanceRole[];
  workers?: number | "auto";
}

/** The gateway of this process (the whole instance, or one worker of `--workers N`). */
async function startGateway(flags: ServeFlags, io: CliIO, roles: InstanceRole[] | undefined): Promise<RunningServer> {
  // Loaded here, not at the top: the other commands (simulator, batch-worker) never need it.
  const { startServer } = await import("../server");
  const worker = workerIndex(io.env);
  return startServer({
    port: flags.port,
    host: flags.host,
    dataDir: resolveDataDir(flags.dataDir),
    configFile: flags.config,
    env: io.env,
    roles,
    // One builder of the dashboard's files, not one per worker.
    buildDashboard: worker === undefined || worker === 1,
    onAdminCreated: (admin) => {
      // Shown once, on the terminal only (never through the logger).
      io.err(
        admin.generated
          ? `\nCreated the first admin user 'admin' with password: ${admin.password}\n(shown only now; set SWITCHYARD_ADMIN_PASSWORD before the first start to choose it)\n`
          : "\nCreated the first admin user 'admin' with the password from SWITCHYARD_ADMIN_PASSWORD.\n",
      );
    },
  });
}

/** Resolves when the server has stopped after SIGINT/SIGTERM; a second signal forces exit. */
async function serve(flags: ServeFlags, io: CliIO): Promise<void> {
  if (flags.roles && !flags.roles.includes("gateway")) return background(flags.roles, flags, io);
  if (cluster.isWorker) return gatewayWorker(flags, io);
  const requested = flags.workers ?? (await loadConfig(flags.config, io.env)).config.gateway.workers;
  const workers = resolveWorkers({ requested, roles: flags.roles, databaseUrl: io.env.DATABASE_URL });
  if (workers > 1) return primary(flags, workers, io);
  await runUntilSignal(io, () => startGateway(flags, io, flags.roles), {
    stopping: (running, signal) => running.ctx.logger.info({ signal }, "shutting down"),
    started: (running) => {
      const { config, scheduler } = running.ctx;
      const hot = config.models.filter(
        (m) => m.placement === "hot" && config.clusters.some((c) => c.name === m.cluster && c.status === "active"),
      ).length;
      // Settled: every hot model has a deployment and none is still on its way.
      collectStartupGarbage(() => {
        const deployments = scheduler.deployments();
        return deployments.length >= hot && deployments.every((d) => d.state !== "queued" && d.state !== "starting");
      });
      const url = running.url;
      io.err(
        `\nSwitchyard is up: ${url}\n` +
          (flags.roles ? `  roles:    ${running.ctx.roles.join(", ")}\n` : "") +
          `  dashboard: ${url}/admin (sign in as admin)\n` +
          `  sign in:  curl -s ${url}/auth/token -d grant_type=password -d username=admin -d password=... | jq -r .access_token\n` +
          `  models:   curl -H "Authorization: Bearer $TOKEN" ${url}/v1/models\n` +
          `  devices:  ${url}/device (approves 'sy login')\n` +
          `  health:   curl ${url}/health\n` +
          "  stop:     Ctrl-C\n\n",
      );
    },
  });
}

/** One gateway worker of `serve --workers N`: the gateway role alone, its shared state kept by the primary. */
async function gatewayWorker(flags: ServeFlags, io: CliIO): Promise<void> {
  await runWorker(
    async () => {
      const running = await startGateway(flags, io, ["gateway"]);
      const detach = joinPrimaryMetrics(running.ctx.metrics.registry);
      return {
        close: async () => {
          await running.close();
          detach();
        },
      };
    },
    (error) => io.err(`switchyard: gateway worker shutdown failed: ${error.message}\n`),
  );
}

/** The primary of `serve --workers N`, started: where its workers listen, and its own logger. */
export interface RunningPrimaryProcess {
  url: string;
  roles: InstanceRole[];
  /** The primary's own lines (`component: primary`); its scheduler and batch worker log as `batch-worker`. */
  logger: Logger;
  close(): Promise<void>;
}

/**
 * Start the primary of `serve --workers N`: the roles other than the gateway (the scheduler, the
 * batch worker) in this process, then the N gateway workers. Its own lines (workers listening,
 * exiting, shutting down) say `component: primary`, not the `batch-worker` of the background
 * roles it runs beside them.
 */
export async function startPrimaryProcess(
  flags: ServeFlags,
  workers: number,
  env: NodeJS.ProcessEnv,
  given?: Loggers,
): Promise<RunningPrimaryProcess> {
  const { config } = await loadConfig(flags.config, env);
  // Loaded here, not at the top: the CLI's other commands never need pino.
  const loggers = given ?? (await import("../logger")).createLoggers();
  const roles = flags.roles ?? [...ROLES].filter((r) => r !== "batch" || config.batch.runInServe);
  const others = roles.filter((r) => r !== "gateway");
  const { startBackground } = await import("../batch-worker");
  const rest =
    others.length > 0
      ? await startBackground({
          roles: others,
          dataDir: resolveDataDir(flags.dataDir),
          configFile: flags.config,
          env,
          logger: loggers.logger,
        })
      : undefined;
  const logger = loggers.logger.child({ component: "primary" });
  try {
    const gateways = await startPrimary({
      workers,
      logger,
      registry: rest?.ctx.metrics.registry,
      limits: config.gateway.limits,
      redis: Boolean(env.REDIS_URL),
    });
    return {
      url: shownUrl(flags.host, gateways.address.port),
      roles,
      logger,
      close: async () => {
        await gateways.close();
        await rest?.close();
        logger.info("switchyard stopped");
        await loggers.flush();
      },
    };
  } catch (error) {
    await rest?.close();
    throw error;
  }
}

/**
 * `serve --workers N` (N > 1): this process runs the roles other than the gateway (the scheduler,
 * the batch worker) and forks N gateway workers that share the port.
 */
async function primary(flags: ServeFlags, workers: number, io: CliIO): Promise<void> {
  await runUntilSignal(io, () => startPrimaryProcess(flags, workers, io.env), {
    stopping: (running, signal) => running.logger.info({ signal }, "shutting down"),
    started: (running) => {
      const { url } = running;
      io.err(
        `\nSwitchyard is up: ${url}\n` +
          `  roles:    ${running.roles.join(", ")} (${workers} gateway workers)\n` +
          `  dashboard: ${url}/admin (sign in as admin)\n` +
          `  models:   curl -H "Authorization: Bearer $TOKEN" ${url}/v1/models\n` +
          `  health:   curl ${url}/health\n` +
          "  stop:     Ctrl-C\n\n",
      );
    },
  });
}

/** `serve --roles` without the gateway: the scheduler and/or the batch worker, with their probes on --port. */
async function background(roles: InstanceRole[], flags: ServeFlags, io: CliIO): Promise<void> {
  await runUntilSignal(
    io,
    async () => {
      const { startBackground } = await import("../batch-worker");
      return startBackground({
        roles,
        dataDir: resolveDataDir(flags.dataDir),
        configFile: flags.config,
        env: io.env,
        port: flags.port,
        host: flags.host,
      });
    },
    {
      stopping: (running, signal) => running.ctx.logger.info({ signal }, "shutting down"),
      started: (running) => {
        const { ctx, url } = running;
        const scheduler = ctx.roles.includes("scheduler")
          ? ` (scheduler: ${ctx.scheduler.isLeader ? "leading" : "standby, takes over when the leader stops"})`
          : "";
        io.err(
          `\nSwitchyard is up: ${url}\n` +
            `  roles:    ${ctx.roles.join(", ")}${scheduler}\n` +
            `  health:   curl ${url}/health   (ready: ${url}/ready, metrics: ${url}/metrics)\n` +
            "  stop:     Ctrl-C\n\n",
        );
      },
    },
  );
}

export function registerServe(program: Command, io: CliIO): void {
  program
    .command("serve")
    .description("run Switchyard: migrate the database, then serve the API (all roles in one process by default)")
    .addOption(
      new Option("--port <n>", "port to listen on (0: any free port)")
        .env("SWITCHYARD_PORT")
        .default(DEFAULT_PORT)
        .argParser(parsePort),
    )
    .addOption(new Option("--host <host>", "address to listen on").env("SWITCHYARD_HOST").default(DEFAULT_HOST))
    .addOption(dataDirOption())
    .addOption(configOption())
    .addOption(
      new Option(
        "--roles <list>",
        `what this instance runs, comma-separated: ${ROLES.join(", ")} (default: all; any other set needs DATABASE_URL)`,
      )
        .env("SWITCHYARD_ROLES")
        .argParser(parseRoles),
    )
    .addOption(
      new Option(
        "--workers <n>",
        "gateway processes sharing the port (default: the config's gateway.workers; 'auto': one per core with --roles gateway, else 1); more than 1 needs DATABASE_URL",
      )
        .env("SWITCHYARD_WORKERS")
        .argParser(parseWorkers),
    )
    .addHelpText("after", ROLES_HELP)
    .action(async (flags: ServeFlags) => serve(flags, io));
}
