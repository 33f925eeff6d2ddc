import { type ClusterConfig, isUnfinishedDeployment, type ResolvedModel } from "@switchyard/core";
import { fail, move, note } from "../changes";
import type { Launcher } from "../launcher";
import { type Occupant, placeModel } from "../placement";
import { policyContext, type SchedulerResources } from "../resources";
import { type DeploymentRecord, newServerKey, TransitionConflict } from "../store";

/**
 * Who holds GPUs on the cluster's nodes, and whether each may be evicted: a live dynamic
 * model, not pinned, with nothing in flight, no batch lease and unused for `busyWindow`.
 */
export function occupants(res: SchedulerResources, cluster: string, now: number): Occupant[] {
  const busyWindow = res.config.scheduler.busyWindow * 1000;
  return res.snapshot
    .all()
    .filter((d) => d.cluster === cluster && d.nodeName && isUnfinishedDeployment(d.state))
    .map((d) => {
      const entry = res.catalog.ofRow(d.modelId);
      const model = entry?.config;
      const lastUsed = res.inFlight.lastUsed(d);
      const evictable =
        d.state === "live" &&
        (model?.placement === "dynamic" || (res.policy.poolsNodes === true && model?.placement === "hot")) &&
        !res.snapshot.isPinned(d.modelId) &&
        res.inFlight.of(d.id) === 0 &&
        (d.busyUntil?.getTime() ?? 0) <= now &&
        now - lastUsed >= busyWindow;
      return {
        deploymentId: d.id,
        node: d.nodeName as string,
        gpus: d.gpus,
        evictable,
        lastUsed,
        ...(entry ? { modelKey: entry.key, loadSeconds: entry.config.expectedLoadTime } : {}),
        ...(model?.placement === "hot" ? { hot: true } : {}),
      };
    });
}

/**
 * Step 7, per usable cluster: queued deployments not yet submitted, in arrival order, are
 * placed and launched, or make room by evicting what the policy chooses (and wait for those to drain), or keep
 * waiting with the reason shown.
 */
export async function processQueue(res: SchedulerResources, cluster: ClusterConfig, now: Date): Promise<void> {
  const launcher = res.launchers.get(cluster.name);
  if (!launcher) return;
  const { evictingFor } = res.memory;
  const waiting = res.snapshot.queued(cluster.name).filter((d) => !d.jobId);
  for (const record of waiting) {
    const model = res.catalog.ofRow(record.modelId)?.config;
    if (!model) continue;
    const here = occupants(res, cluster.name, now.getTime());
    const node = placeModel(model, cluster.nodes, here, res.policy.poolsNodes);
    if (node) {
      evictingFor.delete(record.id);
      await launch(res, cluster, launcher, record, model, node.name, now);
      continue;
    }
    if (record.replica > 0 && (model.placement === "dynamic" || res.policy.poolsNodes)) {
      // A replica demand added waits for free GPUs; it never stops another model for them.
      const reason = `extra replica waiting for ${model.gpus} free GPU${model.gpus === 1 ? "" : "s"}`;
      if (record.stateReason !== reason) await note(res, record, { stateReason: reason });
      continue;
    }
    const pending = evictingFor.get(record.id);
    if (pending && [...pending].some((id) => res.snapshot.get(id)?.state === "draining")) continue;
    const entry = res.catalog.ofRow(record.modelId);
    const plan = res.policy.planEviction(model, cluster.nodes, here, policyContext(res, now.getTime()), {
      key: entry?.key ?? `${cluster.name}/${model.id}`,
      since: record.queuedAt?.getTime() ?? now.getTime(),
    });
    if (plan) {
      evictingFor.set(record.id, new Set(plan.evict.map((v) => v.deploymentId)));
      for (const victim of plan.evict) {
        const victimRecord = res.snapshot.get(victim.deploymentId);
        if (victimRecord)
          await move(res, victimRecord, "draining", `evicted (${plan.cause}) to make room for ${model.id}`, now);
      }
      continue;
    }
    const role = model.placement === "hot" ? (model.node ? `node ${model.node}` : "a hot node") : "a rotating node";
    const reason = `waiting for ${model.gpus} free GPU${model.gpus === 1 ? "" : "s"} on ${role}`;
    if (record.stateReason !== reason) await note(res, record, { stateReason: reason });
  }
}

/**
 * Launch a placed deployment. When the launcher's `launch()` reaches a running server the
 * deployment is starting; when it only submits a job it stays queued with the job's id and
 * reason until `observe` sees the job run. A launch that throws fails the deployment.
 */
async function launch(
  res: SchedulerResources,
  cluster: ClusterConfig,
  launcher: Launcher,
  queued: DeploymentRecord,
  model: ResolvedModel,
  nodeName: string,
  now: Date,
): Promise<void> {
  const node = cluster.nodes.find((n) => n.name === nodeName);
  if (!node) return;
  const keyed = await withServerKey(res, queued, model);
  if (!keyed) return;
  const { record, serverKey } = keyed;
  try {
    const job = await launcher.launch({
      deploymentId: record.id,
      model,
      cluster: cluster.name,
      node,
      gpus: model.gpus,
      serverKey,
    });
    res.metrics.launched(cluster.name, "launched");
    const url = job.baseUrl ? new URL(job.baseUrl) : undefined;
    if (launcher.capabilities.launchReaches === "running") {
      await move(res, record, "starting", `started on ${node.name}`, now, {
        node: node.name,
        jobId: job.jobId,
        logPath: job.logPath,
        host: url?.hostname ?? null,
        port: url ? Number(url.port) : null,
      });
    } else {
      const updated = await res.store.annotate(record, {
        node: node.name,
        jobId: job.jobId,
        logPath: job.logPath,
        stateReason: job.reason ?? `submitted as job ${job.jobId}`,
      });
      res.snapshot.remember(updated);
    }
  } catch (error) {
    res.metrics.launched(cluster.name, "failed");
    await fail(res, record, `could not launch: ${(error as Error).message}`, now);
  }
}

/**
 * The deployment with the key its server is to require. One queued before servers had keys
 * gets one now, stored before anything runs (undefined: someone else changed it meanwhile).
 */
async function withServerKey(
  res: SchedulerResources,
  record: DeploymentRecord,
  model: ResolvedModel,
): Promise<{ record: DeploymentRecord; serverKey: string | null } | undefined> {
  if (model.engine.type === "external") return { record, serverKey: null };
  const known = res.snapshot.serverKey(record.id);
  if (known) return { record, serverKey: known };
  const serverKey = newServerKey();
  try {
    const updated = await res.store.annotate(record, { serverKey });
    res.snapshot.remember(updated);
    res.snapshot.setServerKey(record.id, serverKey);
    return { record: updated, serverKey };
  } catch (error) {
    if (error instanceof TransitionConflict) return undefined;
    throw error;
  }
}
