import { type Command, Option } from "commander";
import type { CliIO } from "../cli-io";
import { runUntilSignal } from "./lifecycle";
import { configOption, dataDirOption, parsePort, resolveDataDir } from "./options";

interface BatchWorkerFlags {
  dataDir: string;
  config?: string;
  metricsPort?: number;
}

/** Runs until SIGINT/SIGTERM; running batches stop at a checkpoint and resume elsewhere. */
async function batchWorker(flags: BatchWorkerFlags, io: CliIO): Promise<void> {
  await runUntilSignal(
    io,
    async () => {
      const { startBatchWorker } = await import("../batch-worker");
      return startBatchWorker({
        dataDir: resolveDataDir(flags.dataDir),
        configFile: flags.config,
        env: io.env,
        metricsPort: flags.metricsPort,
      });
    },
    {
      started: (running) =>
        io.err(
          `\nSwitchyard batch worker ${running.worker.id} is running${running.metricsUrl ? `; metrics: ${running.metricsUrl}/metrics` : ""}\n`,
        ),
    },
  );
}

export function registerBatchWorker(program: Command, io: CliIO): void {
  program
    .command("batch-worker")
    .description(
      "run batches in a process of its own: the shorthand of 'serve --roles batch' (needs PostgreSQL: DATABASE_URL; pair with batch.runInServe: false or serve instances without the batch role)",
    )
    .addOption(dataDirOption())
    .addOption(configOption())
    .addOption(
      new Option("--metrics-port <n>", "serve /metrics, /health and /ready on this port (0: any free port)").argParser(
        parsePort,
      ),
    )
    .addHelpText(
      "after",
      "\nNeeds: DATABASE_URL (the PostgreSQL database the serve instances use) and the same config file.\nIt never leads the scheduler: cold models it needs are started by the instance with the scheduler role.\n",
    )
    .action(async (flags: BatchWorkerFlags) => batchWorker(flags, io));
}
