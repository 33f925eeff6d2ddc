import { closeSync, openSync, writeSync } from "node:fs";
import {
  CRASH_EXIT_CODE,
  type RunningSimulator,
  type SimulatorFlags,
  type SimulatorHostEvent,
  type SimulatorHostRequest,
  SimulatorOptionsError,
  simulatorOptionsFromFlags,
  startSimulator,
} from "@switchyard/engines";
import { Command, CommanderError } from "commander";
import { CliError, type CliIO, EXIT } from "../cli-io";
import { withSimulatorFlags } from "./simulator";

interface Hosted {
  /** Undefined while it starts. */
  simulator?: RunningSimulator;
  log: number;
  /** A stop asked for while it was starting. */
  stopRequested: boolean;
}

/** The flags of one hosted server, as `switchyard simulator` reads them (usage problems: thrown as text). */
function parseFlags(args: string[]): SimulatorFlags {
  const problems: string[] = [];
  const command = withSimulatorFlags(new Command("simulator"))
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: (text) => problems.push(text.trim()) });
  try {
    command.parse(args, { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) throw new Error(problems.join("\n") || error.message);
    throw error;
  }
  return command.opts<SimulatorFlags>();
}

/**
 * `switchyard simulator-host`: the simulated model servers of a launcher in one process, one
 * port each, driven over the IPC channel its launcher opened (see SimulatorHostRequest).
 */
async function runSimulatorHost(io: CliIO): Promise<void> {
  const send = process.send?.bind(process);
  if (!send) throw new CliError("simulator-host is started by Switchyard's local launcher (it needs its IPC channel)");
  const emit = (event: SimulatorHostEvent) => {
    if (process.connected) send(event);
  };
  const servers = new Map<string, Hosted>();
  const writeLog = (hosted: Hosted, line: string) => {
    try {
      writeSync(hosted.log, line);
    } catch {
      // the log file went away: the server keeps answering
    }
  };
  const end = (id: string, hosted: Hosted) => {
    if (servers.get(id) !== hosted) return false;
    servers.delete(id);
    closeSync(hosted.log);
    return true;
  };

  const start = async (request: Extract<SimulatorHostRequest, { type: "start" }>) => {
    if (servers.has(request.id)) await stop(request.id);
    let log: number;
    try {
      log = openSync(request.logPath, "a");
    } catch {
      return emit({ type: "exited", id: request.id, code: EXIT.failure });
    }
    const hosted: Hosted = { log, stopRequested: false };
    servers.set(request.id, hosted);
    const fail = (code: number, message: string) => {
      writeLog(
        hosted,
        `${JSON.stringify({ level: "error", time: new Date().toISOString(), msg: message, simulator: true })}\n`,
      );
      if (end(request.id, hosted)) emit({ type: "exited", id: request.id, code });
    };
    let options: ReturnType<typeof simulatorOptionsFromFlags>;
    try {
      const flags = parseFlags(request.args);
      options = simulatorOptionsFromFlags({ ...flags, ...(request.apiKey ? { apiKey: request.apiKey } : {}) });
    } catch (error) {
      const text = error instanceof SimulatorOptionsError ? error.problems.join("; ") : (error as Error).message;
      return fail(EXIT.usage, `error: ${text}`);
    }
    try {
      hosted.simulator = await startSimulator(options, {
        log: (line) => writeLog(hosted, line),
        // A simulated crash ends this server only; its launcher sees the exit code a process would give.
        onCrash: () => {
          if (end(request.id, hosted)) emit({ type: "exited", id: request.id, code: CRASH_EXIT_CODE });
        },
      });
    } catch (error) {
      return fail(EXIT.failure, (error as Error).message);
    }
    if (hosted.stopRequested) await stop(request.id);
  };

  const stop = async (id: string) => {
    const hosted = servers.get(id);
    if (!hosted) return emit({ type: "stopped", id });
    if (!hosted.simulator) {
      hosted.stopRequested = true;
      return;
    }
    await hosted.simulator.close();
    if (end(id, hosted)) emit({ type: "stopped", id });
  };

  process.on("message", (message: SimulatorHostRequest) => {
    if (message.type === "start") void start(message);
    else if (message.type === "stop") void stop(message.id);
  });
  emit({ type: "ready" });
  io.err(`simulator host ${process.pid} ready\n`);

  await new Promise<void>((resolve) => {
    let stopping = false;
    const shutdown = () => {
      if (stopping) process.exit(EXIT.failure);
      stopping = true;
      void Promise.all([...servers.values()].map((hosted) => hosted.simulator?.close())).then(() => resolve());
    };
    process.on("SIGINT", shutdown);
    process.on("SIGTERM", shutdown);
    // Its launcher's process went away (the IPC channel closes with it): no server outlives it.
    process.on("disconnect", shutdown);
  });
}

export function registerSimulatorHost(program: Command, io: CliIO): void {
  program
    .command("simulator-host", { hidden: true })
    .description("run the simulated model servers of a local launcher in one process (started by serve)")
    .action(async () => runSimulatorHost(io));
}
