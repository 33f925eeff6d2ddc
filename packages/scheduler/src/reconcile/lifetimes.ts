import { formatDuration } from "@switchyard/core";
import { move } from "../changes";
import type { SchedulerResources } from "../resources";

/**
 * Step 4: a live dynamic model drains at its maximum lifetime, or after its idle TTL with
 * nothing in flight. Pinned models and deployments leased by batch work are left alone.
 */
export async function applyLifetimes(res: SchedulerResources, now: Date): Promise<void> {
  const t = now.getTime();
  for (const record of res.snapshot.all()) {
    if (record.state !== "live") continue;
    const model = res.catalog.ofRow(record.modelId)?.config;
    if (model?.placement !== "dynamic" || res.snapshot.isPinned(record.modelId)) continue;
    if ((record.busyUntil?.getTime() ?? 0) > t) continue;
    const liveAt = record.liveAt?.getTime() ?? t;
    if (t - liveAt >= model.maxLifetime * 1000) {
      await move(res, record, "draining", `maximum lifetime of ${formatDuration(model.maxLifetime)} reached`, now);
      continue;
    }
    if (t - res.inFlight.lastUsed(record) >= model.idleTtl * 1000 && res.inFlight.of(record.id) === 0) {
      await move(res, record, "draining", `idle for ${formatDuration(model.idleTtl)}`, now);
    }
  }
}
