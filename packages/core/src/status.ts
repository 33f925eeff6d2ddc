import { z } from "zod";

/** Internal lifecycle of one deployment (one model server on one node). */
export const DEPLOYMENT_STATES = ["offline", "queued", "starting", "live", "draining", "failed"] as const;
export const DeploymentStateSchema = z.enum(DEPLOYMENT_STATES);
export type DeploymentState = z.infer<typeof DeploymentStateSchema>;

/** Which moves the state machine allows; anything else is a bug in the scheduler. */
export const DEPLOYMENT_TRANSITIONS: Readonly<Record<DeploymentState, readonly DeploymentState[]>> = {
  offline: ["queued", "starting", "failed"],
  queued: ["starting", "offline", "failed"],
  starting: ["live", "draining", "offline", "failed"],
  // live -> starting: failed health checks, the server is being waited on again.
  live: ["draining", "starting", "offline", "failed"],
  draining: ["offline", "failed"],
  failed: ["offline", "queued", "starting"],
};

export function canTransition(from: DeploymentState, to: DeploymentState): boolean {
  return DEPLOYMENT_TRANSITIONS[from].includes(to);
}

/**
 * A model's current deployments (its replicas): queued, starting or live. A model has at most
 * one per replica slot (a partial unique index on the table says so, across processes); a
 * request for a model without one creates the first.
 */
export const CURRENT_DEPLOYMENT_STATES = ["queued", "starting", "live"] as const satisfies readonly DeploymentState[];

/**
 * Not finished yet: current, or draining. Such a deployment may hold a job, a process and its
 * node's GPUs, so a restart adopts or closes it and placement counts it.
 */
export const UNFINISHED_DEPLOYMENT_STATES = [
  ...CURRENT_DEPLOYMENT_STATES,
  "draining",
] as const satisfies readonly DeploymentState[];

export function isCurrentDeployment(state: DeploymentState): boolean {
  return (CURRENT_DEPLOYMENT_STATES as readonly DeploymentState[]).includes(state);
}

export function isUnfinishedDeployment(state: DeploymentState): boolean {
  return (UNFINISHED_DEPLOYMENT_STATES as readonly DeploymentState[]).includes(state);
}

/** On its way somewhere (queued, starting, draining): the scheduler looks again within 50 ms. */
export function isChangingDeployment(state: DeploymentState): boolean {
  return state === "queued" || state === "starting" || state === "draining";
}

/** What users see for a model: Live, Starting, Queued or Offline (the UI adds "All"). */
export const MODEL_STATUSES = ["live", "starting", "queued", "offline"] as const;
export const ModelStatusSchema = z.enum(MODEL_STATUSES);
export type ModelStatus = z.infer<typeof ModelStatusSchema>;

export const MODEL_STATUS_LABELS: Readonly<Record<ModelStatus, string>> = {
  live: "Live",
  starting: "Starting",
  queued: "Queued",
  offline: "Offline",
};

/**
 * A model's replicas (its model servers, one deployment each) now, and how many it may have:
 * `live` take requests; `starting` load; `queued` wait for GPUs; `draining` finish what they
 * hold and take nothing new. The scheduler keeps `min` whatever the demand (hot models at
 * least 1, dynamic ones 0) and starts more, up to `max`, while requests per replica stay above
 * the model's `replicaConcurrency`.
 */
export const ReplicaCountsSchema = z
  .looseObject({
    live: z.int().nonnegative().describe("Replicas taking requests now"),
    starting: z.int().nonnegative().describe("Replicas loading the model, not yet taking requests"),
    queued: z.int().nonnegative().describe("Replicas waiting for GPUs (or in the launcher's queue)"),
    draining: z
      .int()
      .nonnegative()
      .describe("Replicas finishing their requests before they stop; they take no new ones"),
    min: z
      .int()
      .nonnegative()
      .describe(
        "Replicas kept whatever the demand (minReplicas: hot models at least 1, dynamic 0; 0 for a hot model the adaptive policy starts by demand, unless pinned)",
      ),
    max: z.int().positive().describe("Replicas demand may start (maxReplicas)"),
  })
  .describe(
    "The model's replicas (model servers) by state now, and its bounds: between min and max replicas run, more while requests per replica stay above the model's replicaConcurrency, fewer when demand falls",
  );
export type ReplicaCounts = z.infer<typeof ReplicaCountsSchema>;

/** Where a model that is not live stands (the scheduler's availability carries these). */
export interface ModelWait {
  status: ModelStatus;
  /** 1-based, when queued. */
  queuePosition: number | null;
  /** Seconds until it should be live, when that can be known. */
  etaSeconds: number | null;
  /** Why it is not live (maintenance, Slurm's pending reason, the last failure). */
  reason: string | null;
}

/**
 * Where a model stands, in words to follow its status: ` (position 2 in the queue, ready in
 * about 40 s; Resources)`, ` (loading, about 12 s to go)`, ` (maintenance)`, or nothing. The
 * gateway's 503 and a waiting batch's `waiting_for` both say it this way.
 */
export function modelWaitDetail(wait: ModelWait): string {
  const eta = wait.etaSeconds;
  if (wait.status === "queued") {
    const ready = eta !== null ? `ready in about ${Math.ceil(eta)} s` : "ready time unknown";
    return ` (position ${wait.queuePosition ?? "?"} in the queue, ${ready}${wait.reason ? `; ${wait.reason}` : ""})`;
  }
  if (wait.status === "starting") return eta !== null ? ` (loading, about ${Math.ceil(eta)} s to go)` : " (loading)";
  return wait.reason ? ` (${wait.reason})` : "";
}

/** The status filter users pick from: the four statuses or all of them. */
export const ModelStatusFilterSchema = z.enum([...MODEL_STATUSES, "all"]);
export type ModelStatusFilter = z.infer<typeof ModelStatusFilterSchema>;

/**
 * A model's user-facing status from its deployments' states: the most available one wins.
 * Draining and failed deployments take no new requests, so alone they read as offline
 * (a new request starts the model again).
 */
export function modelStatusOf(states: Iterable<DeploymentState>): ModelStatus {
  let best: ModelStatus = "offline";
  const rank: Record<ModelStatus, number> = { offline: 0, queued: 1, starting: 2, live: 3 };
  for (const state of states) {
    const status: ModelStatus =
      state === "live" ? "live" : state === "starting" ? "starting" : state === "queued" ? "queued" : "offline";
    if (rank[status] > rank[best]) best = status;
  }
  return best;
}

export const CLUSTER_STATUSES = ["active", "maintenance", "coming_soon"] as const;
export const ClusterStatusSchema = z.enum(CLUSTER_STATUSES);
export type ClusterStatus = z.infer<typeof ClusterStatusSchema>;
