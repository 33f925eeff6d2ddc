import { move } from "../changes";
import { policyContext, type SchedulerResources } from "../resources";

/**
 * Step 4: a live dynamic model drains when the policy says so (`current`: at its maximum
 * lifetime, or after its idle TTL with nothing in flight). Pinned models and deployments leased
 * by batch work are left alone.
 */
export async function applyLifetimes(res: SchedulerResources, now: Date): Promise<void> {
  const t = now.getTime();
  const ctx = policyContext(res, t);
  for (const record of res.snapshot.all()) {
    if (record.state !== "live") continue;
    const entry = res.catalog.ofRow(record.modelId);
    const model = entry?.config;
    if (!entry || model?.placement !== "dynamic" || res.snapshot.isPinned(record.modelId)) continue;
    if ((record.busyUntil?.getTime() ?? 0) > t) continue;
    const reason = res.policy.drainReason(
      {
        key: entry.key,
        model,
        liveAt: record.liveAt?.getTime() ?? t,
        lastUsed: res.inFlight.lastUsed(record),
        inFlight: res.inFlight.of(record.id),
      },
      ctx,
    );
    if (reason) await move(res, record, "draining", reason, now);
  }
}
