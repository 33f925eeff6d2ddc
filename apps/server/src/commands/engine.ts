import type { LlamaServerFlags } from "@switchyard/llama";
import type { Command } from "commander";
import { CliError, type CliIO, EXIT } from "../cli-io";

/** Loaded on demand: node-llama-cpp is needed by this command only. */
async function loadLlama(): Promise<typeof import("@switchyard/llama")> {
  try {
    return await import("@switchyard/llama");
  } catch (error) {
    throw new CliError(
      `the llama.cpp engine is not installed (${(error as Error).message}); run 'pnpm install' at the repository root`,
    );
  }
}

/** Resolves when the server has stopped after SIGINT/SIGTERM (or its parent went away). */
async function runLlamaCpp(flags: LlamaServerFlags, command: Command, io: CliIO): Promise<void> {
  const llama = await loadLlama();
  let options: ReturnType<typeof llama.llamaServerOptionsFromFlags>;
  try {
    options = llama.llamaServerOptionsFromFlags(flags, io.env);
  } catch (error) {
    if (error instanceof llama.LlamaServerOptionsError) {
      command.error(`error: ${error.problems.join("\n       ")}`, { exitCode: EXIT.usage, code: "switchyard.badFlag" });
    }
    throw error;
  }
  let server: Awaited<ReturnType<typeof llama.startLlamaServer>>;
  try {
    server = await llama.startLlamaServer(options, { log: io.out });
  } catch (error) {
    if (error instanceof llama.LlamaServerListenError) throw new CliError(error.message);
    throw error;
  }
  io.err(
    `\nllama.cpp engine server: ${server.url} (model ${server.modelId}, ${options.parallel} parallel sequences)\n` +
      `  health:  curl ${server.url}/health (503 while the model loads)\n` +
      `  metrics: curl ${server.url}/metrics${options.apiKey ? " -H 'Authorization: Bearer <key>'" : ""}\n` +
      "  stop:    Ctrl-C\n\n",
  );
  await new Promise<void>((resolve, reject) => {
    let stopping = false;
    const stop = () => {
      if (stopping) process.exit(EXIT.failure);
      stopping = true;
      void server.close().then(resolve);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    server.ready.catch((error: Error) => {
      void server.close().then(() => reject(new CliError(`llama.cpp could not load the model: ${error.message}`)));
    });
    // Launched by Switchyard's local launcher: do not outlive it (see the simulator command).
    const parent = Number(io.env.SWITCHYARD_PARENT_PID);
    if (Number.isInteger(parent) && parent > 1) {
      const watch = setInterval(() => {
        if (process.ppid !== parent) {
          clearInterval(watch);
          stop();
        }
      }, 1000);
      watch.unref();
    }
  });
}

export function registerEngine(program: Command, io: CliIO): void {
  const engine = program
    .command("engine")
    .description("run a real model server (an inference engine) for Switchyard to launch");
  engine
    .command("llama-cpp")
    .description(
      "llama.cpp (node-llama-cpp) behind an OpenAI-compatible server: chat, completions, embeddings, /health, /metrics",
    )
    .requiredOption(
      "--model <file>",
      "a GGUF file, or a generated test model: generated:<tiny|small|bench>-<chat|embedding> (written to the cache on first use)",
    )
    .option("--port <n>", "port to listen on (0: any free port)", "8080")
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--alias <id>", "the model id clients name (default: the file's name without .gguf)")
    .option("--api-key <key>", "require 'Authorization: Bearer <key>' on everything but /health (or set LLAMA_API_KEY)")
    .option("--ctx <n>", "context window of each sequence, in tokens (default: the model's, at most 4096)")
    .option("--parallel <n>", "sequences generated at once; more requests wait in a FIFO queue (default: 4)")
    .option("--threads <n>", "CPU threads (default: the machine's math cores; 1 on a shared machine)")
    .option("--gpu <mode>", "auto, cuda (fails without the CUDA build) or none", "auto")
    .option("--cache-dir <dir>", "where generated models are written (default: ~/.cache/switchyard)")
    .option("--log-level <level>", "info, debug (one line per request) or silent", "info")
    .action(async (flags: LlamaServerFlags, command: Command) => runLlamaCpp(flags, command, io));
}
