import { formatDuration, type ResolvedModel } from "@switchyard/core";
import { expectedReadySeconds } from "@switchyard/engines";
import { fail, move } from "../changes";
import type { SchedulerResources } from "../resources";
import { authorizationFor } from "../routing/acquire";
import { baseUrlOf } from "../snapshot";
import type { DeploymentRecord } from "../store";

/** How long a server may take to be ready: its expected load time times a factor, at least a floor. */
export function startTimeoutMs(res: SchedulerResources, model: ResolvedModel): number {
  const { startTimeoutFactor, minStartTimeout } = res.config.scheduler;
  return Math.max(minStartTimeout, startTimeoutFactor * expectedReadySeconds(model, res.engines)) * 1000;
}

/** Readiness and health checks carry the model server's key, as requests do. */
export function probeHeaders(res: SchedulerResources, record: DeploymentRecord): Record<string, string> | undefined {
  const authorization = authorizationFor(res, record);
  return authorization ? { authorization } : undefined;
}

/**
 * Step 2: starting deployments with an address are asked whether they are ready; a ready one
 * goes live (and clears its model's restart backoff), one past its start timeout fails.
 */
export async function checkStarting(res: SchedulerResources, now: Date): Promise<void> {
  const { memory } = res;
  const starting = res.snapshot.all().filter((d) => d.state === "starting" && !memory.checking.has(d.id));
  await Promise.all(
    starting.map(async (record) => {
      const entry = res.catalog.ofRow(record.modelId);
      if (!entry) return;
      const model = entry.config;
      const since = memory.startingSince.get(record.id) ?? record.startedAt?.getTime() ?? now.getTime();
      if (!memory.startingSince.has(record.id)) memory.startingSince.set(record.id, since);
      const base = baseUrlOf(record);
      if (base) {
        memory.checking.add(record.id);
        try {
          const ready = await res.probe(base, model, probeHeaders(res, record));
          if (ready.ready) {
            await move(res, record, "live", "ready", new Date(res.now()));
            memory.restartBackoff.delete(entry.key);
            return;
          }
        } finally {
          memory.checking.delete(record.id);
        }
      }
      const timeout = startTimeoutMs(res, model);
      if (now.getTime() - since > timeout)
        await fail(res, record, `not ready within ${formatDuration(timeout / 1000)}`, now);
    }),
  );
}
