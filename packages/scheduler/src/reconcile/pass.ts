import { refresh, type SchedulerResources } from "../resources";
import { finishDraining } from "./drain";
import { checkHealth } from "./health";
import { ensureHotModels } from "./hot-models";
import { applyLifetimes } from "./lifetimes";
import { observe } from "./observe";
import { prewarmModels } from "./prewarm";
import { processQueue } from "./queue";
import { checkStarting } from "./readiness";
import { scaleReplicas } from "./replicas";

/**
 * One reconcile pass of the leader, after the snapshot was re-read: each step is a function of
 * the shared resources and the pass's time (`now`, from the injected clock), in this order.
 */
export async function reconcile(res: SchedulerResources, now: Date): Promise<void> {
  for (const [clusterName, launcher] of res.launchers) await observe(res, clusterName, launcher, now);
  await checkStarting(res, now);
  await checkHealth(res, now);
  await applyLifetimes(res, now);
  await finishDraining(res, now);
  await ensureHotModels(res);
  await scaleReplicas(res, now);
  await prewarmModels(res, now);
  await refresh(res);
  for (const cluster of res.config.clusters) {
    if (!res.snapshot.clusterProblem(cluster) && res.launchers.has(cluster.name))
      await processQueue(res, cluster, new Date(res.now()));
  }
  await res.inFlight.flush(res.store, res.logger, res.now(), false);
  res.metrics.count(res.snapshot.all(), res.config.clusters);
}
