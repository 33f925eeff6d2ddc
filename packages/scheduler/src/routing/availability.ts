import { isCurrentDeployment, type ModelStatus, modelStatusOf } from "@switchyard/core";
import { expectedReadySeconds } from "@switchyard/engines";
import { enqueue } from "../changes";
import type { ColdStartRequester, SchedulerResources } from "../resources";
import { baseUrlOf } from "../snapshot";
import type { DeploymentRecord } from "../store";
import { queuedEtaSeconds } from "./wait";

/** What a caller learns about a model it wants to use. */
export interface Availability {
  model: string;
  cluster: string;
  status: ModelStatus;
  deploymentId: string | null;
  /** Where to send requests, when live. */
  baseUrl: string | null;
  /** 1-based position among the cluster's queued deployments, when queued. */
  queuePosition: number | null;
  /**
   * Seconds until it should be live. Starting: its expected load time less the time it has
   * loaded. Queued: the wait for its GPUs (the deployments ahead of it, what holds its node
   * draining or being evicted) plus its load time; null when that wait cannot be known.
   */
  etaSeconds: number | null;
  /** Why it is not live (maintenance, Slurm's pending reason, the last failure). */
  reason: string | null;
}

function queuePosition(res: SchedulerResources, record: DeploymentRecord): number {
  return res.snapshot.queued(record.cluster).findIndex((d) => d.id === record.id) + 1;
}

/** The model's status for users, from the snapshot (no database round trip). */
export function availability(res: SchedulerResources, cluster: string, model: string): Availability {
  const entry = res.catalog.entry(cluster, model);
  const base = { model, cluster, deploymentId: null, baseUrl: null, queuePosition: null, etaSeconds: null };
  if (!entry) return { ...base, status: "offline", reason: "not in the catalog" };
  const problem = res.snapshot.clusterProblem(entry.cluster);
  if (problem) return { ...base, status: "offline", reason: problem };
  const deployments = res.snapshot.ofModel(entry.rowId);
  const status = modelStatusOf(deployments.map((d) => d.state));
  const current =
    deployments.find((d) => d.state === status) ??
    deployments.filter((d) => d.state === "failed").sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())[0];
  const load = expectedReadySeconds(entry.config, res.engines);
  const now = res.now();
  if (status === "live" && current) {
    return { ...base, status, deploymentId: current.id, baseUrl: baseUrlOf(current), reason: null };
  }
  if (status === "starting" && current) {
    const since = res.memory.startingSince.get(current.id) ?? current.startedAt?.getTime() ?? now;
    return {
      ...base,
      status,
      deploymentId: current.id,
      etaSeconds: Math.max(0, Math.round((load - (now - since) / 1000) * 10) / 10),
      reason: null,
    };
  }
  if (status === "queued" && current) {
    return {
      ...base,
      status,
      deploymentId: current.id,
      queuePosition: queuePosition(res, current),
      etaSeconds: queuedEtaSeconds(res, current, load, now),
      reason: current.stateReason,
    };
  }
  return { ...base, status: "offline", reason: current?.state === "failed" ? current.stateReason : null };
}

/**
 * Make sure the model is live or on its way: the first caller for a cold model creates its
 * deployment (1,000 concurrent callers still create exactly one), everyone gets its state,
 * queue position and ETA. `requestedBy`, a user whose request this is: when it is this call
 * that starts the model, `onColdStart` hears who (for the audit log, which only admins read).
 */
export async function ensureLive(
  res: SchedulerResources,
  cluster: string,
  model: string,
  requestedBy?: ColdStartRequester,
): Promise<Availability> {
  const entry = res.catalog.entry(cluster, model);
  if (!entry || res.snapshot.clusterProblem(entry.cluster)) return availability(res, cluster, model);
  res.history.record(entry.key, res.now());
  const current = res.snapshot.ofModel(entry.rowId).some((d) => isCurrentDeployment(d.state));
  if (!current) {
    let start = res.coldStarts.get(entry.key);
    if (!start) {
      // The cause stays "requested": users of the model see it; who asked is for the audit log.
      start = enqueue(res, entry, "requested")
        .then((record) => {
          if (record && requestedBy)
            res.onColdStart?.({
              cluster,
              model: entry.config.id,
              deploymentId: record.id,
              requestedBy,
              at: new Date(res.now()),
            });
        })
        .finally(() => res.coldStarts.delete(entry.key));
      res.coldStarts.set(entry.key, start);
    }
    await start;
    res.wake();
  }
  return availability(res, cluster, model);
}
