import {
  type SimulatorFlags,
  SimulatorListenError,
  SimulatorOptionsError,
  simulatorOptionsFromFlags,
  startSimulator,
} from "@switchyard/engines";
import type { Command } from "commander";
import { CliError, type CliIO, EXIT } from "../cli-io";

/** Resolves when the simulator has stopped after SIGINT/SIGTERM; an injected crash exits the process instead. */
async function runSimulator(flags: SimulatorFlags, command: Command, io: CliIO): Promise<void> {
  let options: ReturnType<typeof simulatorOptionsFromFlags>;
  try {
    // The launchers pass the key in the environment: a flag would show it in every process listing.
    const apiKey = flags.apiKey ?? (io.env.SWITCHYARD_SIMULATOR_API_KEY || undefined);
    options = simulatorOptionsFromFlags({ ...flags, ...(apiKey ? { apiKey } : {}) });
  } catch (error) {
    if (error instanceof SimulatorOptionsError) {
      command.error(`error: ${error.problems.join("\n       ")}`, { exitCode: EXIT.usage, code: "switchyard.badFlag" });
    }
    throw error;
  }
  let simulator: Awaited<ReturnType<typeof startSimulator>>;
  try {
    simulator = await startSimulator(options, { log: io.out });
  } catch (error) {
    if (error instanceof SimulatorListenError) throw new CliError(error.message);
    throw error;
  }
  io.err(
    `\nSwitchyard simulator is up: ${simulator.url} (model ${options.model}; simulated, no real model behind it)\n` +
      `  health:  curl ${simulator.url}/health${options.loadTime > 0 ? ` (503 for the first ${options.loadTime}s)` : ""}\n` +
      `  metrics: curl ${simulator.url}/metrics\n` +
      "  stop:    Ctrl-C\n\n",
  );
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = () => {
      if (stopping) process.exit(EXIT.failure);
      stopping = true;
      void simulator.close().then(resolve);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    // Launched by Switchyard's local launcher: do not outlive it (a crash or kill -9 of the
    // server, a test run cut short), or the server would come back to find stray processes.
    const parent = Number(io.env.SWITCHYARD_PARENT_PID);
    if (Number.isInteger(parent) && parent > 1) {
      const watch = setInterval(() => {
        if (process.ppid !== parent) {
          clearInterval(watch);
          onSignal();
        }
      }, 1000);
      watch.unref();
    }
  });
}

/** The simulator's flags, on `command` (its own command, and the shared host's parser). */
export function withSimulatorFlags(command: Command): Command {
  return command
    .requiredOption("--model <id>", "the model id it serves (other ids get 404)")
    .option("--port <n>", "port to listen on (0: any free port)", "8000")
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option(
      "--capabilities <list>",
      "comma-separated: chat, completions, embedding, vision, tools, reasoning, batch",
      "chat,completions",
    )
    .option("--load-time <duration>", "time until /health answers 200, e.g. 2s (default: 0)")
    .option("--ttft <duration>", "time to first token, e.g. 50ms (default: 50ms)")
    .option("--tokens-per-second <n>", "generation speed per sequence (default: 40)")
    .option("--max-concurrency <n>", "sequences generated at once; more wait in a FIFO queue (default: 256)")
    .option("--embedding-dimensions <n>", "embedding size (default: 1024)")
    .option("--max-model-len <n>", "context length; longer requests get 400 (default: 32768)")
    .option("--default-max-tokens <n>", "max_tokens of /v1/completions when the request has none (default: 16)")
    .option("--answer-tokens <n|min-max>", "length of an answer that max_tokens does not cut (default: 16-48)")
    .option("--fail-rate <0..1>", "share of inference requests answered with --fail-status (default: 0)")
    .option("--fail-status <code>", "HTTP status of injected failures (default: 500)")
    .option("--crash-after-requests <n>", "exit non-zero after answering this many inference requests")
    .option("--crash-after <duration>", "exit non-zero this long after start")
    .option(
      "--hang-after-requests <n>",
      "after this many inference requests, accept later ones and never answer them (/health still answers)",
    )
    .option("--hang-for <duration>", "how long the hang lasts, then it answers again (default: until it exits)")
    .option("--seed <n>", "seed for generated text, embeddings and injected failures (default: 0)")
    .option("--profile <profile>", "realistic (paced) or fast (answers at once, for benchmarks)", "realistic")
    .option("--log-level <level>", "info, debug (one line per request) or silent", "info")
    .option(
      "--api-key <key>",
      "require 'Authorization: Bearer <key>' on /v1/* (401 otherwise), as vLLM's --api-key (default: $SWITCHYARD_SIMULATOR_API_KEY)",
    );
}

export function registerSimulator(program: Command, io: CliIO): void {
  withSimulatorFlags(
    program
      .command("simulator")
      .description(
        "run the simulator: an OpenAI-compatible model server with NO model behind it (generated text), for tests and benchmarks",
      ),
  ).action(async (flags: SimulatorFlags, command: Command) => runSimulator(flags, command, io));
}
