import { formatDuration, isCurrentDeployment } from "@switchyard/core";
import type { ModelEntry } from "../catalog-index";
import { enqueue } from "../changes";
import * as operator from "../operator";
import { placeAndHold } from "../placement";
import type { SchedulerResources } from "../resources";
import type { ModelDemand } from "../routing/demand";
import type { DeploymentRecord } from "../store";
import { occupants } from "./queue";

/**
 * The replicas a model's demand calls for: enough that each has at most `replicaConcurrency`
 * requests (in flight and waiting), within [minReplicas, maxReplicas]; never below 1 while it
 * has a deployment (a dynamic model goes to zero by its idle TTL, not here).
 */
export function wantedReplicas(entry: ModelEntry, demand: ModelDemand | undefined): number {
  const { minReplicas, maxReplicas, replicaConcurrency } = entry.config;
  const load = (demand?.inFlight ?? 0) + (demand?.waiting ?? 0);
  return Math.min(maxReplicas, Math.max(minReplicas, 1, Math.ceil(load / replicaConcurrency)));
}

/** The lowest replica slots no current deployment of the model uses. */
export function freeSlots(current: readonly DeploymentRecord[], count: number): number[] {
  const used = new Set(current.map((d) => d.replica));
  const slots: number[] = [];
  for (let slot = 0; slots.length < count; slot++) if (!used.has(slot)) slots.push(slot);
  return slots;
}

/**
 * Step 6b, models that may have more than one replica: demand above what the current replicas
 * serve for `scaling.upWindow` starts more, each only where GPUs are free now (an extra replica
 * never evicts anything); demand that fewer replicas would serve for `scaling.downWindow`
 * drains one (a queued one first, else the newest slot), then waits another window.
 */
export async function scaleReplicas(res: SchedulerResources, now: Date): Promise<void> {
  const { upWindow, downWindow, demandInterval } = res.config.scheduler.scaling;
  const scalable = [...res.catalog.entries()].filter(
    (e) => e.config.maxReplicas > 1 && !res.snapshot.clusterProblem(e.cluster) && res.launchers.has(e.cluster.name),
  );
  if (scalable.length === 0) return;
  const demand = await res.demand.totals(res.store, now.getTime(), demandInterval * 1000);
  const t = now.getTime();
  for (const entry of scalable) {
    const current = res.snapshot.ofModel(entry.rowId).filter((d) => isCurrentDeployment(d.state));
    const timers = res.memory.scaling.get(entry.key) ?? {};
    res.memory.scaling.set(entry.key, timers);
    if (current.length === 0) {
      // Nothing runs: the first replica comes from a request (dynamic) or the hot-model step.
      timers.upSince = undefined;
      timers.downSince = undefined;
      continue;
    }
    const want = wantedReplicas(entry, demand.get(entry.rowId));
    if (want > current.length) {
      timers.downSince = undefined;
      timers.upSince ??= t;
      if (t - timers.upSince < upWindow * 1000) continue;
      timers.upSince = undefined;
      await scaleUp(res, entry, current, want, demand.get(entry.rowId), t);
    } else if (want < current.length) {
      timers.upSince = undefined;
      timers.downSince ??= t;
      if (t - timers.downSince < downWindow * 1000) continue;
      timers.downSince = t;
      await scaleDown(res, entry, current, want, downWindow);
    } else {
      timers.upSince = undefined;
      timers.downSince = undefined;
    }
  }
}

async function scaleUp(
  res: SchedulerResources,
  entry: ModelEntry,
  current: DeploymentRecord[],
  want: number,
  demand: ModelDemand | undefined,
  t: number,
): Promise<void> {
  const { config: model } = entry;
  const here = occupants(res, entry.cluster.name, t);
  const slots = freeSlots(current, want - current.length);
  let started = 0;
  for (const slot of slots) {
    // Its GPUs count as taken, so the next replica is placed beside it, not on the same hole.
    if (!placeAndHold(model, entry.cluster.nodes, here, res.policy.poolsNodes, `planned-${slot}`, t)) break;
    const load = (demand?.inFlight ?? 0) + (demand?.waiting ?? 0);
    await enqueue(
      res,
      entry,
      `replica ${slot + 1} of up to ${model.maxReplicas}: ${load} requests for ${current.length + started} replica${current.length + started === 1 ? "" : "s"} (${model.replicaConcurrency} each)`,
      slot,
    );
    res.metrics.scaled(entry.cluster.name, "up");
    started++;
  }
  if (started < slots.length) {
    res.logger.info(
      { model: model.id, wanted: want, replicas: current.length + started },
      "scheduler: more replicas wanted, but no GPUs are free for them (extra replicas never evict)",
    );
  }
}

async function scaleDown(
  res: SchedulerResources,
  entry: ModelEntry,
  current: DeploymentRecord[],
  want: number,
  downWindow: number,
): Promise<void> {
  // A replica still waiting costs nothing to drop; otherwise the newest slot goes.
  const victim =
    current.find((d) => d.state === "queued") ??
    current.find((d) => d.state === "starting") ??
    [...current].sort((a, b) => b.replica - a.replica)[0];
  if (!victim) return;
  await operator.drain(
    res,
    victim.id,
    `fewer replicas needed: demand for ${want} of ${current.length} for ${formatDuration(downWindow)}`,
  );
  res.metrics.scaled(entry.cluster.name, "down");
}
