import { isCurrentDeployment } from "@switchyard/core";
import { fail, move, note } from "../changes";
import type { Launcher } from "../launcher";
import type { SchedulerResources } from "../resources";

/**
 * Step 1 of a pass: what each launcher sees of our jobs. An exited job closes a draining
 * deployment and fails any other; a pending one shows its reason and the launcher's estimated
 * start, unless it had been running (Slurm requeued it when its node went down): then it is
 * failed like an exited one; a running one moves a submitted deployment to starting and keeps
 * its address current.
 */
export async function observe(
  res: SchedulerResources,
  clusterName: string,
  launcher: Launcher,
  now: Date,
): Promise<void> {
  let observations: Awaited<ReturnType<Launcher["observe"]>>;
  try {
    observations = await launcher.observe();
  } catch (error) {
    res.logger.warn({ cluster: clusterName, err: error }, "scheduler: cannot observe the launcher's jobs");
    return;
  }
  const byDeployment = new Map(observations.map((o) => [o.deploymentId, o]));
  for (const record of res.snapshot.all()) {
    if (record.cluster !== clusterName || !record.jobId || res.memory.stopping.has(record.id)) continue;
    const seen = byDeployment.get(record.id);
    if (!seen) continue;
    if (seen.phase === "exited") {
      if (record.state === "draining") {
        await move(res, record, "offline", "stopped", now);
        await launcher.stop(record.id, record.jobId).catch(() => {});
      } else if (isCurrentDeployment(record.state)) {
        await fail(res, record, seen.reason ?? "the server exited", now);
      }
      continue;
    }
    if (seen.phase === "pending" && record.state !== "queued") {
      // It ran and is back in the queue (Slurm requeues a job whose node went down): whatever
      // answered at its address is gone. Fail it with Slurm's reason (which cancels the job);
      // a hot model is then restarted by the usual backoff and waits in the queue with a reason.
      const reason = seen.lost
        ? (seen.reason ?? "Slurm requeued the job")
        : `the Slurm job went back to the queue (${seen.reason ?? "pending"}); its server is gone`;
      if (record.state === "draining") {
        await move(res, record, "offline", `stopped: ${reason}`, now);
        await launcher.stop(record.id, record.jobId).catch(() => {});
      } else if (isCurrentDeployment(record.state)) {
        await fail(res, record, reason, now);
      }
      continue;
    }
    if (seen.phase === "pending" && record.state === "queued") {
      const reason = `waiting in Slurm: ${seen.reason ?? "pending"}`;
      const estimatedStartAt = seen.estimatedStart ?? null;
      if (record.stateReason !== reason || record.estimatedStartAt?.getTime() !== estimatedStartAt?.getTime()) {
        await note(res, record, { stateReason: reason, estimatedStartAt });
      }
      continue;
    }
    if (seen.phase === "running") {
      const endpoint = seen.baseUrl ? new URL(seen.baseUrl) : undefined;
      const host = endpoint?.hostname.replace(/^\[|\]$/g, "") ?? null;
      const port = endpoint ? Number(endpoint.port) : null;
      if (record.state === "queued") {
        await move(
          res,
          record,
          "starting",
          `the Slurm job runs on ${seen.node ?? "a node"}; waiting for the server to be ready`,
          now,
          { host, port },
        );
      } else if (endpoint && (record.host !== host || record.port !== port) && record.state === "starting") {
        await note(res, record, { host, port });
      }
    }
  }
}
