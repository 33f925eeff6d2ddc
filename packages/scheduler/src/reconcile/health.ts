import { move } from "../changes";
import type { SchedulerResources } from "../resources";
import { baseUrlOf } from "../snapshot";
import { probeHeaders } from "./readiness";

/**
 * Step 3: live deployments are checked every `healthInterval`; after `healthFailures` failed
 * checks in a row one goes back to starting (no traffic) until readiness sees it recover.
 */
export async function checkHealth(res: SchedulerResources, now: Date): Promise<void> {
  const { memory } = res;
  const interval = res.config.scheduler.healthInterval * 1000;
  const live = res.snapshot
    .all()
    .filter(
      (d) =>
        d.state === "live" &&
        !memory.checking.has(d.id) &&
        now.getTime() - (memory.lastHealthCheck.get(d.id) ?? 0) >= interval,
    );
  await Promise.all(
    live.map(async (record) => {
      const model = res.catalog.ofRow(record.modelId)?.config;
      const base = baseUrlOf(record);
      if (!model || !base) return;
      memory.lastHealthCheck.set(record.id, now.getTime());
      memory.checking.add(record.id);
      try {
        const result = await res.probe(base, model, probeHeaders(res, record));
        if (result.ready) {
          memory.healthFailures.delete(record.id);
          return;
        }
        const failures = (memory.healthFailures.get(record.id) ?? 0) + 1;
        memory.healthFailures.set(record.id, failures);
        if (failures >= res.config.scheduler.healthFailures) {
          await move(
            res,
            record,
            "starting",
            `health check failed ${failures} times (${result.detail}); traffic stopped until it recovers`,
            now,
          );
        }
      } finally {
        memory.checking.delete(record.id);
      }
    }),
  );
}
