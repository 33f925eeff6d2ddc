import { isCurrentDeployment } from "@switchyard/core";
import { enqueue } from "../changes";
import { placeAndHold } from "../placement";
import type { PrewarmCandidate } from "../policies";
import { policyContext, type SchedulerResources } from "../resources";
import { occupants } from "./queue";

/**
 * Step 6c, for policies that start models ahead of demand: each dynamic model the policy picks
 * (it has no current deployment) is queued where GPUs are free now, so the queue step launches
 * it this pass; a start ahead of demand never evicts anything. Under a policy that pools the
 * nodes, hot models an operator has not pinned are candidates too (after a failure, once their
 * restart backoff is over).
 */
export async function prewarmModels(res: SchedulerResources, now: Date): Promise<void> {
  if (!res.policy.prewarm) return;
  const t = now.getTime();
  const candidates: PrewarmCandidate[] = [];
  for (const entry of res.catalog.entries()) {
    const pooledHot =
      res.policy.poolsNodes === true && entry.config.placement === "hot" && !res.snapshot.isPinned(entry.rowId);
    if ((entry.config.placement !== "dynamic" && !pooledHot) || res.snapshot.clusterProblem(entry.cluster)) continue;
    const backoff = res.memory.restartBackoff.get(entry.key);
    if (backoff && t < backoff.notBefore) continue;
    if (!res.launchers.has(entry.cluster.name)) continue;
    if (res.snapshot.ofModel(entry.rowId).some((d) => isCurrentDeployment(d.state))) continue;
    candidates.push({ key: entry.key, model: entry.config });
  }
  if (candidates.length === 0) return;
  const chosen = res.policy.prewarm(candidates, policyContext(res, t));
  const planned = new Map<string, ReturnType<typeof occupants>>();
  // Queued deployments that wait for room (requests) take free GPUs first: a cluster with any
  // gets nothing started ahead of demand this pass. Read once, before this step queues its own.
  const waitingForRoom = new Set(
    res.config.clusters.filter((c) => res.snapshot.queued(c.name).some((d) => !d.jobId)).map((c) => c.name),
  );
  for (const pick of chosen) {
    const entry = res.catalog.entry(pick.model.cluster, pick.model.id);
    if (!entry || waitingForRoom.has(entry.cluster.name)) continue;
    let here = planned.get(entry.cluster.name);
    if (!here) {
      here = occupants(res, entry.cluster.name, t);
      planned.set(entry.cluster.name, here);
    }
    if (!placeAndHold(entry.config, entry.cluster.nodes, here, res.policy.poolsNodes, `prewarm-${entry.key}`, t))
      continue;
    await enqueue(res, entry, "started ahead of demand (usually asked for about now)");
  }
}
