import { move } from "../changes";
import type { SchedulerResources } from "../resources";

/**
 * Step 5: a draining deployment with nothing in flight (or past `drainTimeout`) has its server
 * stopped and goes offline, keeping the reason it drained for.
 */
export async function finishDraining(res: SchedulerResources, now: Date): Promise<void> {
  const { stopping } = res.memory;
  const draining = res.snapshot.all().filter((d) => d.state === "draining" && !stopping.has(d.id));
  await Promise.all(
    draining.map(async (record) => {
      const timedOut =
        now.getTime() - (record.drainingAt?.getTime() ?? now.getTime()) > res.config.scheduler.drainTimeout * 1000;
      if (res.inFlight.of(record.id) > 0 && !timedOut) return;
      stopping.add(record.id);
      try {
        const launcher = res.launchers.get(record.cluster);
        if (launcher && record.jobId) await launcher.stop(record.id, record.jobId);
        await move(res, record, "offline", `stopped (${record.stateReason ?? "drained"})`, new Date(res.now()), {
          stateReason: record.stateReason,
        });
      } finally {
        stopping.delete(record.id);
      }
    }),
  );
}
