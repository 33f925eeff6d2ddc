import { isCurrentDeployment } from "@switchyard/core";
import type { SchedulerResources } from "../resources";
import { baseUrlOf } from "../snapshot";
import type { DeploymentRecord } from "../store";
import type { ReplicaFailure } from "./faults";

/** A live replica chosen for one request. */
export interface Replica {
  deploymentId: string;
  baseUrl: string;
  /** The `Authorization` its server wants, if any. */
  authorization?: string;
  /** The request is over (idempotent). */
  release: () => void;
}

/**
 * A live replica to send a request to, counted as in flight until `release()`. The least
 * loaded replica wins when there are several; one out of rotation (`reportFailure`) is
 * skipped. Undefined when none is live.
 */
export function acquire(res: SchedulerResources, cluster: string, model: string): Replica | undefined {
  const entry = res.catalog.entry(cluster, model);
  if (!entry || res.snapshot.clusterProblem(entry.cluster)) return undefined;
  let best: DeploymentRecord | undefined;
  for (const record of res.snapshot.ofModel(entry.rowId)) {
    if (record.state !== "live" || !baseUrlOf(record) || !res.faults.inRotation(record.id)) continue;
    if (!best || res.inFlight.of(record.id) < res.inFlight.of(best.id)) best = record;
  }
  res.history.record(entry.key, res.now());
  if (!best) return undefined;
  const release = res.inFlight.take(best.id, entry.rowId, res.now());
  const authorization = authorizationFor(res, best);
  return {
    deploymentId: best.id,
    baseUrl: baseUrlOf(best) as string,
    ...(authorization ? { authorization } : {}),
    release,
  };
}

/**
 * A request to a replica timed out or found no server (refused, reset before an answer). A
 * refused or broken connection takes it out of rotation at once; `replicaFailures` timeouts in
 * a row do too. Out of rotation, `acquire` skips it until a health probe passes; the
 * reconcile loop is woken to probe it (on every instance, leader or not).
 */
export function reportFailure(res: SchedulerResources, deploymentId: string, failure: ReplicaFailure): void {
  const { replicaFailures, healthInterval } = res.config.scheduler;
  const now = res.now();
  if (!res.faults.failed(deploymentId, failure, now, replicaFailures, healthInterval * 1000)) return;
  const record = res.snapshot.get(deploymentId);
  res.logger.warn(
    {
      deploymentId,
      model: record ? res.catalog.ofRow(record.modelId)?.config.id : undefined,
      failure,
      strikes: res.faults.strikesOf(deploymentId),
    },
    "scheduler: replica taken out of rotation until a health check passes",
  );
  res.wake();
}

/** A request to a replica got an answer: its count of failures in a row starts again. */
export function reportSuccess(res: SchedulerResources, deploymentId: string): void {
  res.faults.answered(deploymentId);
}

/** The `Authorization` a deployment's server wants (its generated key, or an external server's). */
export function authorizationFor(res: SchedulerResources, record: DeploymentRecord): string | undefined {
  return res.catalog.authorizationFor(record.modelId, res.snapshot.serverKey(record.id));
}

/** Batch work keeps its model's current deployment from eviction and idle stop until `until`. */
export async function holdForBatch(
  res: SchedulerResources,
  cluster: string,
  model: string,
  until: number,
): Promise<void> {
  const entry = res.catalog.entry(cluster, model);
  if (!entry) return;
  for (const record of res.snapshot.ofModel(entry.rowId)) {
    if (!isCurrentDeployment(record.state)) continue;
    await res.store.lease(record.id, new Date(until));
    record.busyUntil = new Date(until);
  }
}
