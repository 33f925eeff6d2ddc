import { isCurrentDeployment, isUnfinishedDeployment } from "@switchyard/core";
import { move } from "./changes";
import { refresh, type SchedulerResources } from "./resources";
import { type Availability, availability, ensureLive } from "./routing/availability";

/*
 * What operators do (the control plane calls these through the Scheduler): drain, stop,
 * restart, pin, maintenance. Each writes through the store and asks for a pass.
 */

/** Stop a deployment gracefully (operator action, eviction): no new requests, in-flight ones finish. */
export async function drain(res: SchedulerResources, deploymentId: string, cause: string): Promise<void> {
  const record = res.snapshot.get(deploymentId) ?? (await res.store.get(deploymentId));
  if (!record) return;
  if (record.state === "live" || record.state === "starting") {
    await move(res, record, "draining", cause, new Date(res.now()));
  } else if (record.state === "queued") {
    const launcher = res.launchers.get(record.cluster);
    if (record.jobId && launcher) await launcher.stop(record.id, record.jobId).catch(() => {});
    await move(res, record, "offline", cause, new Date(res.now()));
  }
  res.wake();
}

/** Drain and stop a model's current deployment; false when it had none. */
export async function stopModel(
  res: SchedulerResources,
  cluster: string,
  model: string,
  cause: string,
): Promise<boolean> {
  const entry = res.catalog.entry(cluster, model);
  if (!entry) return false;
  const current = res.snapshot.ofModel(entry.rowId).filter((d) => isCurrentDeployment(d.state));
  for (const record of current) await drain(res, record.id, cause);
  return current.length > 0;
}

/**
 * Stop the model's deployment, then start a fresh one once it is gone. It waits, running
 * passes 50 ms apart, at most the drain timeout plus 30 s (by the injected clock, and by
 * the number of rounds that take in real time, so a stopped test clock cannot hang it).
 */
export async function restartModel(
  res: SchedulerResources,
  tick: () => Promise<void>,
  cluster: string,
  model: string,
  cause: string,
): Promise<Availability> {
  const entry = res.catalog.entry(cluster, model);
  if (!entry) return availability(res, cluster, model);
  await stopModel(res, cluster, model, cause);
  const waitMs = res.config.scheduler.drainTimeout * 1000 + 30_000;
  const deadline = res.now() + waitMs;
  for (let round = 0; round < waitMs / 50; round++) {
    if (!res.snapshot.ofModel(entry.rowId).some((d) => isUnfinishedDeployment(d.state))) break;
    if (res.now() > deadline) break;
    await tick();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return ensureLive(res, cluster, model);
}

/** Keep a model loaded (no idle stop, no eviction, no lifetime limit), or let it go again. */
export async function setPinned(
  res: SchedulerResources,
  cluster: string,
  model: string,
  pinned: boolean,
): Promise<void> {
  const entry = res.catalog.entry(cluster, model);
  if (!entry) return;
  await res.store.setPinned(entry.rowId, pinned);
  res.snapshot.setPinned(entry.rowId, pinned);
}

export function isPinned(res: SchedulerResources, cluster: string, model: string): boolean {
  const entry = res.catalog.entry(cluster, model);
  return entry ? res.snapshot.isPinned(entry.rowId) : false;
}

/** Put a cluster in maintenance (requests get 503, nothing starts there) or end it (null). */
export async function setMaintenance(res: SchedulerResources, cluster: string, reason: string | null): Promise<void> {
  await res.store.setMaintenance(cluster, reason, new Date(res.now()));
  res.snapshot.flagWritten(); // a pass reading the flags meanwhile would put back the old ones
  await refresh(res);
  res.wake();
}

/**
 * Replicas the scheduler keeps running whatever the demand: the model's `minReplicas`, except a
 * hot model under a policy that pools the nodes (`adaptive`) that no operator pinned, which
 * comes and goes by demand like a dynamic one (0: offline is expected of it, not a fault).
 */
export function keptReplicas(res: SchedulerResources, cluster: string, model: string): number {
  const entry = res.catalog.entry(cluster, model);
  if (!entry) return 0;
  if (entry.config.placement === "hot" && res.policy.poolsNodes && !res.snapshot.isPinned(entry.rowId)) return 0;
  return entry.config.minReplicas;
}
