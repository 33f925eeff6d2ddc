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
  /** When only submitted: what the deployment says while the job waits (`submitted to Slurm as job 42`). */
  reason?: string;
}

/** What the scheduler may count on from a launcher (it never asks which launcher it is). */
export interface LauncherCapabilities {
  /**
   * Whether its servers outlive this process. Yes (Slurm jobs): a restart adopts the jobs of
   * unfinished deployments and shutdown leaves them running. No (child processes): shutdown
   * stops them and closes their deployments, and a restart closes what a crash left behind.
   */
  readonly serversSurviveRestart: boolean;
  /**
   * What `launch()` reached when it returns. `running`: the server process runs, so the
   * deployment is starting. `submitted`: a job waits for resources, so the deployment stays
   * queued (with the job's id and reason) until `observe()` sees it run.
   */
  readonly launchReaches: "running" | "submitted";
}

/** One job as the launcher sees it now. */
export interface JobObservation {
  deploymentId: string;
  jobId: string;
  /** `pending`: waiting for resources (Slurm); `running`: the process or job runs; `exited`: it ended. */
  phase: "pending" | "running" | "exited";
  /**
   * Pending, but the job had been running: its server is gone (Slurm requeued it when its node
   * went down). The deployment fails with `reason`; the queue entry is not a fresh wait.
   */
  lost?: boolean;
  /** Slurm's pending reason, or how it ended. */
  reason?: string;
  /** Where it runs (Slurm's node list). */
  node?: string;
  baseUrl?: string;
  /** Pending: when the launcher's own scheduler expects the job to start (Slurm's `squeue %S`), if it knows. */
  estimatedStart?: Date;
}

/**
 * How model servers are started on a cluster: child processes of this machine, or Slurm jobs.
 * Chosen per cluster in config; the scheduler's lifecycle is the same for both.
 */
export interface Launcher {
  /** Its name, stored with each deployment (for operators; the scheduler decides by `capabilities`). */
  readonly kind: "local" | "slurm";
  readonly capabilities: LauncherCapabilities;
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
