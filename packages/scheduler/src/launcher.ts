import type { NodeConfig, ResolvedModel } from "@switchyard/core";

/** What the scheduler asks a launcher to run. */
export interface LaunchRequest {
  deploymentId: string;
  model: ResolvedModel;
  cluster: string;
  /** The node the scheduler placed it on (a real Slurm node only when `pinNodes`). */
  node: NodeConfig;
  gpus: number;
  /**
   * The key the server is to require from every caller (null: an external server, which has
   * its own). Launchers hand it over in the environment, never on a command line.
   */
  serverKey: string | null;
}

export interface LaunchedJob {
  /** Local: the process id; Slurm: the job id. */
  jobId: string;
  /** Where the server answers, when already known (local); Slurm learns it once the job runs. */
  baseUrl?: string;
  logPath: string;
}

/** One job as the launcher sees it now. */
export interface JobObservation {
  deploymentId: string;
  jobId: string;
  /** `pending`: waiting for resources (Slurm); `running`: the process or job runs; `exited`: it ended. */
  phase: "pending" | "running" | "exited";
  /** Slurm's pending reason, or how it ended. */
  reason?: string;
  /** Where it runs (Slurm's node list). */
  node?: string;
  baseUrl?: string;
}

/**
 * How model servers are started on a cluster: child processes of this machine, or Slurm jobs.
 * Chosen per cluster in config; the scheduler's lifecycle is the same for both.
 */
export interface Launcher {
  readonly kind: "local" | "slurm";
  launch(request: LaunchRequest): Promise<LaunchedJob>;
  /** Every job of ours the launcher knows of (Slurm: found by name, so also after a restart). */
  observe(): Promise<JobObservation[]>;
  /** Stop a job; resolves once it is gone (local) or cancelled (Slurm). */
  stop(deploymentId: string, jobId: string): Promise<void>;
  /** The last lines of a job's log, for failure reasons. */
  tail(deploymentId: string, lines?: number): Promise<string>;
  /** Called when a job ends by itself, so the scheduler can act at once. */
  onChange(listener: () => void): void;
  /** At shutdown: local stops its children; Slurm leaves jobs running for the next start to adopt. */
  shutdown(): Promise<void>;
}
