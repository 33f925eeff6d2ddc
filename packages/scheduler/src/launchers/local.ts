import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { adapterFor, type EngineAdapterOptions, inheritedEnvironment } from "@switchyard/engines";
import type { Logger } from "pino";
import type { JobObservation, LaunchedJob, Launcher, LaunchRequest } from "../launcher";
import { tailFile } from "../logs";
import { SimulatorHost } from "./simulator-host";

/** A free TCP port on the loopback interface. */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface Child {
  /** Ask it to stop (SIGTERM, or a hosted server's close); `force` after the grace period. */
  terminate: () => void;
  force: () => void;
  jobId: string;
  baseUrl: string;
  logPath: string;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  exited: Promise<void>;
}

/** The deployment's key in the variable its engine reads (the environment is readable by its owner only). */
function serverKeyEnvironment(variable: string | undefined, request: LaunchRequest): Record<string, string> {
  return variable && request.serverKey ? { [variable]: request.serverKey } : {};
}

/** Is `pid` a server we started for `deploymentId` (its environment says so)? */
export function isOurProcess(pid: number, deploymentId: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, "utf8")
      .split("\0")
      .includes(`SWITCHYARD_DEPLOYMENT_ID=${deploymentId}`);
  } catch {
    return false;
  }
}

/**
 * Model servers as child processes of this machine, on free loopback ports, logging to
 * `<logDir>/<deployment>.log`. An exit is seen at once. Stopping sends SIGTERM, then SIGKILL
 * after the grace period.
 */
export class LocalLauncher implements Launcher {
  readonly kind = "local" as const;
  readonly capabilities = { serversSurviveRestart: false, launchReaches: "running" } as const;
  private readonly children = new Map<string, Child>();
  private readonly listeners: (() => void)[] = [];

  constructor(
    private readonly options: {
      logDir: string;
      engines: EngineAdapterOptions;
      stopGraceMs: number;
      logger: Logger;
      /**
       * Run simulated servers in one shared simulator host process (one port each) instead of a
       * process each. Real engines always get their own process.
       */
      sharedSimulator?: boolean;
    },
  ) {
    mkdirSync(options.logDir, { recursive: true });
  }

  private simulatorHost: SimulatorHost | undefined;

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  async launch(request: LaunchRequest): Promise<LaunchedJob> {
    const adapter = adapterFor(request.model, this.options.engines);
    const port = await freePort();
    const plan = adapter.launch(request.model, { host: "127.0.0.1", port });
    if (plan.kind === "external") {
      return { jobId: "external", baseUrl: plan.baseUrl, logPath: "" };
    }
    const logPath = path.join(this.options.logDir, `${request.deploymentId}.log`);
    if (plan.shared && this.options.sharedSimulator) return this.launchHosted(request, plan, plan.shared, logPath);
    const log = openSync(logPath, "a");
    const [command, ...args] = plan.argv as [string, ...string[]];
    const child = spawn(command, args, {
      env: {
        // Not the service's own environment: that holds its secrets.
        ...inheritedEnvironment(this.options.engines),
        ...plan.env,
        ...serverKeyEnvironment(plan.serverKeyEnv, request),
        SWITCHYARD_DEPLOYMENT_ID: request.deploymentId,
        SWITCHYARD_NODE: request.node.name,
        // The simulator exits when this process goes away (real engines are stopped at shutdown
        // and, after a crash, by the next start).
        SWITCHYARD_PARENT_PID: String(process.pid),
      },
      stdio: ["ignore", log, log],
    });
    // The child has its own copy of the descriptor; keeping ours leaked one per launch (the soak bench's fds).
    closeSync(log);
    const { entry, ended } = this.track(request.deploymentId, {
      terminate: () => child.kill("SIGTERM"),
      force: () => child.kill("SIGKILL"),
      jobId: String(child.pid ?? "spawn-failed"),
      baseUrl: plan.baseUrl,
      logPath,
    });
    child.once("exit", ended);
    child.once("error", (error) => {
      this.options.logger.warn({ deployment: request.deploymentId, err: error }, "model server failed to start");
      ended(null, null);
    });
    return { jobId: entry.jobId, baseUrl: plan.baseUrl, logPath };
  }

  /** A server in the shared simulator host: its job id is the host's pid; it ends alone or with the host. */
  private async launchHosted(
    request: LaunchRequest,
    plan: { baseUrl: string },
    shared: { argv: string[]; args: string[] },
    logPath: string,
  ): Promise<LaunchedJob> {
    this.simulatorHost ??= new SimulatorHost({
      argv: shared.argv,
      env: inheritedEnvironment(this.options.engines),
      logPath: path.join(this.options.logDir, "simulator-host.log"),
      logger: this.options.logger,
    });
    const host = this.simulatorHost;
    const id = request.deploymentId;
    let ended: (code: number | null, signal: NodeJS.Signals | null) => void = () => {};
    const pid = await host.start(
      { id, args: shared.args, logPath, ...(request.serverKey ? { apiKey: request.serverKey } : {}) },
      (exit) => ended(exit.code, exit.signal),
    );
    const tracked = this.track(id, {
      terminate: () => void host.stop(id, this.options.stopGraceMs),
      force: () => {},
      jobId: String(pid),
      baseUrl: plan.baseUrl,
      logPath,
    });
    ended = tracked.ended;
    return { jobId: tracked.entry.jobId, baseUrl: plan.baseUrl, logPath };
  }

  private track(
    deploymentId: string,
    fields: Omit<Child, "exited" | "exit">,
  ): { entry: Child; ended: (code: number | null, signal: NodeJS.Signals | null) => void } {
    let markExited: () => void = () => {};
    const entry: Child = {
      ...fields,
      exited: new Promise<void>((resolve) => {
        markExited = resolve;
      }),
    };
    const ended = (code: number | null, signal: NodeJS.Signals | null) => {
      if (entry.exit) return;
      entry.exit = { code, signal };
      markExited();
      for (const listener of this.listeners) listener();
    };
    this.children.set(deploymentId, entry);
    return { entry, ended };
  }

  async observe(): Promise<JobObservation[]> {
    return [...this.children.entries()].map(([deploymentId, child]) => {
      if (!child.exit)
        return { deploymentId, jobId: child.jobId, phase: "running" as const, baseUrl: child.baseUrl, node: "local" };
      const how = child.exit.signal ? `killed by ${child.exit.signal}` : `exit code ${child.exit.code ?? "unknown"}`;
      return { deploymentId, jobId: child.jobId, phase: "exited" as const, reason: `the server exited (${how})` };
    });
  }

  async stop(deploymentId: string, jobId: string): Promise<void> {
    const child = this.children.get(deploymentId);
    if (!child) {
      // A server left by an earlier run of this process (crash): kill it only if it is ours.
      const pid = Number(jobId);
      if (Number.isInteger(pid) && pid > 0 && isOurProcess(pid, deploymentId)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      return;
    }
    if (!child.exit) {
      child.terminate();
      const timer = setTimeout(() => child.force(), this.options.stopGraceMs);
      await child.exited;
      clearTimeout(timer);
    }
    this.children.delete(deploymentId);
  }

  async tail(deploymentId: string, lines = 15): Promise<string> {
    const logPath = this.children.get(deploymentId)?.logPath ?? path.join(this.options.logDir, `${deploymentId}.log`);
    return tailFile(logPath, lines);
  }

  async shutdown(): Promise<void> {
    await Promise.all([...this.children.entries()].map(([id, child]) => this.stop(id, child.jobId)));
    await this.simulatorHost?.shutdown(this.options.stopGraceMs);
  }
}
