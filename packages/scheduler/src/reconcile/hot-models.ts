import { isCurrentDeployment } from "@switchyard/core";
import { enqueue } from "../changes";
import type { SchedulerResources } from "../resources";
import { freeSlots } from "./replicas";

/**
 * Step 6: every hot model of a usable cluster has its `minReplicas` current deployments (one,
 * by default); after a failure the next one waits out the model's restart backoff. Under a
 * policy that pools the nodes only pinned hot models are kept so; the others are started by
 * the prewarm step, by demand.
 */
export async function ensureHotModels(res: SchedulerResources): Promise<void> {
  for (const entry of res.catalog.entries()) {
    if (
      entry.config.placement !== "hot" ||
      res.snapshot.clusterProblem(entry.cluster) ||
      !res.launchers.has(entry.cluster.name) ||
      (res.policy.poolsNodes && !res.snapshot.isPinned(entry.rowId))
    )
      continue;
    const current = res.snapshot.ofModel(entry.rowId).filter((d) => isCurrentDeployment(d.state));
    const missing = entry.config.minReplicas - current.length;
    if (missing <= 0) continue;
    const backoff = res.memory.restartBackoff.get(entry.key);
    if (backoff && res.now() < backoff.notBefore) continue;
    for (const slot of freeSlots(current, missing)) {
      const cause = backoff ? `restarting a hot model (attempt ${backoff.failures + 1})` : "hot model";
      await enqueue(res, entry, slot === 0 ? cause : `${cause}, replica ${slot + 1}`, slot);
    }
  }
}
