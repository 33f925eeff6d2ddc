import type { JobObservation } from "../launcher";

// What Slurm says of our jobs and nodes, read into observations: pure functions of
// `squeue`/`sinfo` output (unit-tested on real lines), used by the launcher in slurm.ts.

/** Slurm job states in which the job waits (or waits again) for a node. */
export const PENDING_STATES = new Set(["PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "RESIZING", "SUSPENDED"]);
/** Slurm job states in which the job runs on its node. */
export const RUNNING_STATES = new Set(["RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING"]);

/** `squeue`'s format for our jobs; `%S` (start time) comes as epoch seconds (`SLURM_TIME_FORMAT=%s`), the reason last. */
export const SQUEUE_FORMAT = "%i|%j|%T|%N|%k|%Z|%S|%r";

/** One line of `squeue -o SQUEUE_FORMAT`. */
export interface SqueueLine {
  jobId: string;
  name: string;
  state: string;
  nodes: string;
  comment: string;
  workDir: string;
  /** When Slurm expects a pending job to start (or when a running one started); undefined when it has no estimate. */
  start?: Date;
  reason: string;
}

/**
 * A `%S` field: epoch seconds (as we ask for), or Slurm's default `2026-12-05T20:30:23` in
 * this machine's time zone should `SLURM_TIME_FORMAT` be ignored; `N/A`, `Unknown`, `None`
 * or nothing: no estimate.
 */
export function parseSlurmTime(field: string | undefined): Date | undefined {
  const value = field?.trim() ?? "";
  if (/^\d+$/.test(value)) {
    const seconds = Number(value);
    return seconds > 0 ? new Date(seconds * 1000) : undefined;
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.test(value)) {
    const at = new Date(value); // no zone: local time, as squeue writes it
    return Number.isNaN(at.getTime()) ? undefined : at;
  }
  return undefined;
}

export function parseSqueueLine(line: string): SqueueLine | undefined {
  const [jobId, name, state, nodes, comment, workDir, start, ...rest] = line.split("|");
  if (!jobId || name === undefined || rest.length === 0) return undefined;
  const at = parseSlurmTime(start);
  return {
    jobId,
    name,
    state: state ?? "",
    nodes: nodes ?? "",
    comment: comment ?? "",
    workDir: workDir ?? "",
    ...(at ? { start: at } : {}),
    reason: rest.join("|"),
  };
}

/** One line of `sinfo -h -N -o SINFO_FORMAT`: a node, its state (`idle`, `down*`, `drained`...) and why. */
export const SINFO_FORMAT = "%N|%T|%E";

export interface NodeStatus {
  state: string;
  /** The reason an administrator (or Slurm) gave when the node went down or was drained; `none` when none. */
  reason: string;
}

export function parseSinfo(stdout: string): Map<string, NodeStatus> {
  const nodes = new Map<string, NodeStatus>();
  for (const line of stdout.split("\n")) {
    const [name, state, ...reason] = line.trim().split("|");
    if (name && state) nodes.set(name, { state: state.toLowerCase(), reason: reason.join("|") });
  }
  return nodes;
}

/** Node states in which Slurm runs nothing new there (or has taken its jobs away). */
const NODE_UNUSABLE = /down|drain|fail|maint|reboot|power|unknown|not_responding|inval/;

/**
 * Pending reasons that mean the job waits for a node to come back, not for GPUs to free up:
 * `ReqNodeNotAvail` and its long form `Nodes required for job are DOWN, DRAINED or reserved...`
 * (what `squeue %r` prints in Slurm 22.05), `NodeDown`, `PartitionNodeLimit` of a drained
 * partition... A job in this state has no meaningful start estimate.
 */
export function waitsForNodes(reason: string): boolean {
  return /ReqNodeNotAvail|NodeDown|Nodes required for job are (DOWN|DRAINED)|required node not available/i.test(reason);
}

/** `vm down (maintenance), gpu2 drained` for the unusable nodes among `names` (all of them when none are named). */
export function describeNodes(nodes: ReadonlyMap<string, NodeStatus>, names?: readonly string[]): string {
  const picked = [...nodes].filter(
    ([name, status]) => (names?.length ? names.includes(name) : true) && NODE_UNUSABLE.test(status.state),
  );
  return picked
    .map(([name, { state, reason }]) => `${name} ${state}${reason && reason !== "none" ? ` (${reason})` : ""}`)
    .join(", ");
}

/** What the scheduler knows around one squeue line, so the mapping can be a plain function. */
export interface ObservationContext {
  /** The node this job was last seen running on (this process's memory; lost with a restart). */
  ranOn?: string;
  /** Slurm's nodes (only read when a job's node matters). */
  nodes?: ReadonlyMap<string, NodeStatus>;
  /** Where a running job's server answers, once the job wrote it. */
  baseUrl?: string;
}

/**
 * One of our `squeue` lines as the scheduler sees it:
 * - PENDING and friends: `pending` with Slurm's reason and start estimate, except a job that
 *   waits for down or drained nodes (no estimate: Slurm cannot know when they come back; the
 *   reason names them) and a job that already ran here (Slurm requeued it when its node went
 *   down: the server is gone, so it is `lost`);
 * - RUNNING and friends: `running` on its nodes;
 * - anything else ended; NODE_FAIL says which node failed and why.
 */
export function observationOf(
  deploymentId: string,
  line: SqueueLine,
  context: ObservationContext = {},
): JobObservation {
  const { jobId, state, nodes, reason, start } = line;
  const nodeList = (name?: string) => (name ? name.split(",") : undefined);
  if (PENDING_STATES.has(state)) {
    if (context.ranOn) {
      const down = context.nodes ? describeNodes(context.nodes, nodeList(context.ranOn)) : "";
      return {
        deploymentId,
        jobId,
        phase: "pending",
        lost: true,
        reason: `Slurm took the job off node ${context.ranOn} and requeued it${down ? `: ${down}` : " (the node went down)"}`,
      };
    }
    if (waitsForNodes(reason)) {
      const down = context.nodes ? describeNodes(context.nodes) : "";
      return {
        deploymentId,
        jobId,
        phase: "pending",
        reason: `nodes DOWN/DRAINED${down ? `: ${down}` : ""} (${reason})`,
      };
    }
    return {
      deploymentId,
      jobId,
      phase: "pending",
      reason: reason && reason !== "None" ? reason : "waiting in the queue",
      ...(start ? { estimatedStart: start } : {}),
    };
  }
  if (RUNNING_STATES.has(state)) {
    return {
      deploymentId,
      jobId,
      phase: "running",
      ...(nodes ? { node: nodes } : {}),
      ...(context.baseUrl ? { baseUrl: context.baseUrl } : {}),
    };
  }
  if (state === "NODE_FAIL") {
    const where = nodes || context.ranOn;
    const down = context.nodes ? describeNodes(context.nodes, nodeList(where)) : "";
    return {
      deploymentId,
      jobId,
      phase: "exited",
      reason: `the Slurm job ended because its node failed (node_fail${where ? ` on ${where}` : ""})${down ? `: ${down}` : ""}`,
    };
  }
  return { deploymentId, jobId, phase: "exited", reason: `the Slurm job ended (${state.toLowerCase() || "unknown"})` };
}

export interface Endpoint {
  host: string;
  port: number;
  node?: string;
}
