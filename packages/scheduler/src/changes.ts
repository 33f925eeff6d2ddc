import type { DeploymentState } from "@switchyard/core";
import type { ModelEntry } from "./catalog-index";
import { withoutAddresses } from "./logs";
import type { SchedulerResources } from "./resources";
import { type DeploymentRecord, type DeploymentStore, newServerKey, TransitionConflict } from "./store";

/*
 * The scheduler's writes to deployments. Each goes through the store (a compare-and-set), lands
 * in the snapshot at once and, when the state changed, is logged and sent to listeners.
 */

/** A state change that tolerates losing a race (the next pass sees the winner's result). */
export async function move(
  res: SchedulerResources,
  record: DeploymentRecord,
  to: DeploymentState,
  cause: string,
  now: Date,
  fields: Parameters<DeploymentStore["transition"]>[4] = {},
): Promise<DeploymentRecord | undefined> {
  try {
    const updated = await res.store.transition(record, to, cause, now, fields);
    res.snapshot.remember(updated);
    if (to === "starting") res.memory.startingSince.set(updated.id, now.getTime());
    if (to !== "live") res.memory.healthFailures.delete(updated.id);
    res.logger.info({ deployment: record.id, from: record.state, to, cause }, "scheduler: deployment state");
    res.events.emit({
      deploymentId: record.id,
      cluster: record.cluster,
      model: res.catalog.ofRow(record.modelId)?.config.id ?? null,
      from: record.state,
      to,
      cause,
      at: now.toISOString(),
    });
    return updated;
  } catch (error) {
    if (error instanceof TransitionConflict) return undefined;
    throw error;
  }
}

/** Facts that are not a state change (a reason, an address); losing a race drops them. */
export async function note(
  res: SchedulerResources,
  record: DeploymentRecord,
  fields: Parameters<DeploymentStore["annotate"]>[1],
): Promise<void> {
  const updated = await res.store.annotate(record, fields).catch(() => undefined);
  if (updated) res.snapshot.remember(updated);
}

/**
 * A queued deployment for the model's replica slot (0: its first), unless that slot has a
 * current one (then that one, across processes): the first step of a request for a cold model,
 * of a hot model's start and of a replica demand adds.
 */
export async function enqueue(
  res: SchedulerResources,
  entry: ModelEntry,
  cause: string,
  replica = 0,
): Promise<DeploymentRecord | undefined> {
  const launcher = res.launchers.get(entry.cluster.name);
  const serverKey = entry.config.engine.type === "external" ? null : newServerKey();
  const { record, created } = await res.store.enqueue({
    modelId: entry.rowId,
    replica,
    cluster: entry.cluster.name,
    launcher: launcher?.kind ?? entry.cluster.launcher.type,
    gpus: entry.config.gpus,
    serverKey,
    cause,
    now: new Date(res.now()),
  });
  res.snapshot.remember(record);
  if (!created) return undefined;
  if (serverKey) res.snapshot.setServerKey(record.id, serverKey);
  res.logger.info({ deployment: record.id, model: entry.config.id, replica, cause }, "scheduler: queued a deployment");
  // The first step of every deployment is a change too (a dashboard shows "Queued" at once).
  res.events.emit({
    deploymentId: record.id,
    cluster: record.cluster,
    model: entry.config.id,
    from: "offline",
    to: "queued",
    cause,
    at: (record.queuedAt ?? new Date(res.now())).toISOString(),
  });
  return record;
}

/** The server's last log lines for a failure reason, which users see: without its address. */
async function lastLines(res: SchedulerResources, record: DeploymentRecord): Promise<string> {
  const tail = await res.launchers.get(record.cluster)?.tail(record.id, 8);
  return tail ? `; last log lines:\n${withoutAddresses(tail, record)}` : "";
}

/**
 * Record the failure with the last log lines, then stop what runs; a hot model retries after a
 * backoff. Recorded first: when the database cannot take it, nothing is stopped and the launcher
 * still reports the job, so the next pass fails it again instead of losing the failure.
 */
export async function fail(
  res: SchedulerResources,
  record: DeploymentRecord,
  reason: string,
  now: Date,
): Promise<void> {
  const entry = res.catalog.ofRow(record.modelId);
  const launcher = res.launchers.get(record.cluster);
  // No more requests to it from this process, even while the database cannot take the failure.
  const { healthInterval } = res.config.scheduler;
  res.faults.failed(record.id, "unreachable", res.now(), 1, healthInterval * 1000);
  await move(res, record, "failed", `${reason}${await lastLines(res, record)}`, now);
  if (launcher && record.jobId) await launcher.stop(record.id, record.jobId).catch(() => {});
  // Hot models are restarted, and a policy that starts models ahead of demand would start this
  // one again: both wait out a backoff first.
  if (entry?.config.placement === "hot" || (entry && res.policy.prewarm)) {
    const previous = res.memory.restartBackoff.get(entry.key)?.failures ?? 0;
    const { initial, max } = res.config.scheduler.restartBackoff;
    const delay = Math.min(max, initial * 2 ** previous) * 1000;
    res.memory.restartBackoff.set(entry.key, { failures: previous + 1, notBefore: res.now() + delay });
    res.logger.warn(
      { model: entry.config.id, retryInMs: delay },
      entry.config.placement === "hot"
        ? "scheduler: hot model failed; restarting after backoff"
        : "scheduler: model failed; not started ahead of demand again before the backoff",
    );
  }
}
