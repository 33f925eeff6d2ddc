import { type Command, Option } from "commander";
import type { RunningBatchWorker } from "../batch-worker";
import type { CliIO } from "../cli-io";
import { configOption, dataDirOption, parsePort, resolveDataDir } from "./options";

interface BatchWorkerFlags {
  dataDir: string;
  config?: string;
  metricsPort?: number;
}

/** Runs until SIGINT/SIGTERM; running batches stop at a checkpoint and resume elsewhere. */
async function batchWorker(flags: BatchWorkerFlags, io: CliIO): Promise<void> {
  let stopping = false;
  let running: RunningBatchWorker | undefined;
  let stopped!: () => void;
  const done = new Promise<void>((resolve) => {
    stopped = resolve;
  });
  const shutdown = () => {
    void running
      ?.close()
      .catch((error) => io.err(`switchyard: shutdown failed: ${(error as Error).message}\n`))
      .finally(stopped);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      io.err(`second ${signal}: exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    if (running) shutdown();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const { startBatchWorker } = await import("../batch-worker");
  running = await startBatchWorker({
    dataDir: resolveDataDir(flags.dataDir),
    configFile: flags.config,
    env: io.env,
    metricsPort: flags.metricsPort,
  });
  if (stopping) {
    shutdown();
    return done;
  }
  io.err(
    `\nSwitchyard batch worker ${running.worker.id} is running${running.metricsUrl ? `; metrics: ${running.metricsUrl}/metrics` : ""}\n`,
  );
  return done;
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
