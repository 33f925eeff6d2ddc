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
    .description("run batches in a process of its own (PostgreSQL only; pair with batch.runInServe: false on serve)")
    .addOption(dataDirOption())
    .addOption(configOption())
    .addOption(
      new Option("--metrics-port <n>", "serve /metrics and /health on this port (0: any free port)").argParser(
        parsePort,
      ),
    )
    .action(async (flags: BatchWorkerFlags) => batchWorker(flags, io));
}
