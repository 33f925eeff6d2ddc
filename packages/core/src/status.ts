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
