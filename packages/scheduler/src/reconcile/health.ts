import { move } from "../changes";
import type { SchedulerResources } from "../resources";
import { baseUrlOf } from "../snapshot";
import { probeHeaders } from "./readiness";

/**
 * Step 3: live deployments are checked every `healthInterval`; after `healthFailures` failed
 * checks in a row one goes back to starting (no traffic) until readiness sees it recover.
 * A replica the request path took out of rotation (`routing/faults.ts`) is checked when its
 * probe is due, sooner than the interval, and a passed check puts it back.
 *
 * Every instance runs this for the replicas out of its own rotation (`leader: false`: they
 * are probed, nothing else); only the leader checks every live server and moves states.
 */
export async function checkHealth(res: SchedulerResources, now: Date, options = { leader: true }): Promise<void> {
  const { memory, faults } = res;
  const at = now.getTime();
  const interval = res.config.scheduler.healthInterval * 1000;
  const all = res.snapshot.all().filter((d) => d.state === "live");
  faults.retain(new Set(all.map((d) => d.id)));
  const due = all.filter(
    (d) =>
      !memory.checking.has(d.id) &&
      (faults.inRotation(d.id)
        ? options.leader && at - (memory.lastHealthCheck.get(d.id) ?? 0) >= interval
        : faults.due(d.id, at)),
  );
  await Promise.all(
    due.map(async (record) => {
      const model = res.catalog.ofRow(record.modelId)?.config;
      const base = baseUrlOf(record);
      if (!model || !base) return;
      memory.lastHealthCheck.set(record.id, at);
      memory.checking.add(record.id);
      try {
        const result = await res.probe(base, model, probeHeaders(res, record));
        const wasOut = !faults.inRotation(record.id);
        faults.probed(record.id, result.ready, at, interval);
        if (wasOut && result.ready) {
          res.logger.info({ deploymentId: record.id, model: model.id }, "scheduler: replica back in rotation");
        }
        if (!options.leader) return;
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
