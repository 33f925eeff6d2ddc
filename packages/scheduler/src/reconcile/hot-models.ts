import { isCurrentDeployment } from "@switchyard/core";
import { enqueue } from "../changes";
import type { SchedulerResources } from "../resources";

/**
 * Step 6: every hot model of a usable cluster has a current deployment; after a failure the
 * next one waits out the model's restart backoff.
 */
export async function ensureHotModels(res: SchedulerResources): Promise<void> {
  for (const entry of res.catalog.entries()) {
    if (
      entry.config.placement !== "hot" ||
      res.snapshot.clusterProblem(entry.cluster) ||
      !res.launchers.has(entry.cluster.name)
    )
      continue;
    if (res.snapshot.ofModel(entry.rowId).some((d) => isCurrentDeployment(d.state))) continue;
    const backoff = res.memory.restartBackoff.get(entry.key);
    if (backoff && res.now() < backoff.notBefore) continue;
    await enqueue(res, entry, backoff ? `restarting a hot model (attempt ${backoff.failures + 1})` : "hot model");
  }
}
