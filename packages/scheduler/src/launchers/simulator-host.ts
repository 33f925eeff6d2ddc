import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import type { SimulatorHostEvent, SimulatorHostRequest } from "@switchyard/engines";
import type { Logger } from "pino";

/** How a hosted server ended: as a process exit would read (`signal` when the host was killed). */
export interface HostedExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Server {
  ended: (exit: HostedExit) => void;
  /** Set when a `stop` was sent: resolves on `stopped` (or the host's end). */
  stopped?: () => void;
}

/**
 * The launcher's side of a shared simulator host: one `switchyard simulator-host` process,
 * started at the first simulated launch, that runs every simulated server of the launcher on
 * its own port. A server's own end (a simulated crash) ends that server only; the host's end
 * (killed, crashed) ends each of its servers with the host's exit code or signal, so the
 * scheduler fails each deployment as it would for its own process.
 */
export class SimulatorHost {
  private child: ChildProcess | undefined;
  private ready: Promise<void> | undefined;
  private readonly servers = new Map<string, Server>();

  constructor(
    private readonly options: {
      /** The host's command (`node switchyard.mjs simulator-host`). */
      argv: string[];
      env: Record<string, string>;
      logPath: string;
      logger: Logger;
    },
  ) {}

  /** The host's process id, once started (every hosted server's job id). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Open a server in the host (starting the host if needed); `ended` is called once when it ends by itself or with the host. */
  async start(
    request: Omit<Extract<SimulatorHostRequest, { type: "start" }>, "type">,
    ended: (exit: HostedExit) => void,
  ): Promise<number> {
    const child = await this.spawnOnce();
    this.servers.set(request.id, { ended });
    this.send(child, { type: "start", ...request });
    return child.pid ?? 0;
  }

  /** Close a server; resolves once the host says it closed (or the host is gone, or after `graceMs`). */
  async stop(id: string, graceMs: number): Promise<void> {
    const server = this.servers.get(id);
    const child = this.child;
    if (!server || !child) return;
    const stopped = new Promise<void>((resolve) => {
      server.stopped = resolve;
    });
    this.send(child, { type: "stop", id });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), graceMs);
    });
    if ((await Promise.race([stopped, late])) === "late") {
      this.options.logger.warn({ deployment: id }, "the simulator host did not close a server in time; forgetting it");
      this.finish(id, { code: null, signal: "SIGKILL" });
    }
    clearTimeout(timer);
  }

  /** Stop the host (its servers close with it). */
  async shutdown(graceMs: number): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  }

  private send(child: ChildProcess, message: SimulatorHostRequest): void {
    if (child.connected) child.send(message);
  }

  private finish(id: string, exit: HostedExit): void {
    const server = this.servers.get(id);
    if (!server) return;
    this.servers.delete(id);
    server.ended(exit);
    server.stopped?.();
  }

  private spawnOnce(): Promise<ChildProcess> {
    if (this.child && this.ready) {
      const child = this.child;
      return this.ready.then(() => child);
    }
    const [command, ...args] = this.options.argv as [string, ...string[]];
    const log = openSync(this.options.logPath, "a");
    const child = spawn(command, args, { env: this.options.env, stdio: ["ignore", log, log, "ipc"] });
    closeSync(log);
    this.child = child;
    const ready = new Promise<void>((resolve, reject) => {
      child.on("message", (event: SimulatorHostEvent) => {
        if (event.type === "ready") resolve();
        else if (event.type === "exited") this.finish(event.id, { code: event.code, signal: null });
        else if (event.type === "stopped") this.finish(event.id, { code: 0, signal: null });
      });
      const gone = (code: number | null, signal: NodeJS.Signals | null) => {
        if (this.child === child) {
          this.child = undefined;
          this.ready = undefined;
        }
        reject(new Error(`the simulator host exited before it was ready (${signal ?? `exit code ${code}`})`));
        for (const id of [...this.servers.keys()]) this.finish(id, { code, signal });
      };
      child.once("exit", gone);
      child.once("error", (error) => {
        this.options.logger.warn({ err: error }, "the simulator host failed to start");
        gone(null, null);
      });
    });
    // Not awaited by every caller at once: an early end must not be an unhandled rejection.
    ready.catch(() => {});
    this.ready = ready;
    this.options.logger.info({ pid: child.pid }, "started the shared simulator host");
    return ready.then(() => child);
  }
}
