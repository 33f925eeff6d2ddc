import { Catalog, isUnfinishedDeployment, type ResolvedModel } from "@switchyard/core";
import { type Occupant, placeModel, planEviction } from "../placement";
import type { SchedulerResources } from "../resources";
import type { DeploymentRecord } from "../store";

/** A deployment holding GPUs, and when it lets go of them as far as this process can tell. */
interface Holder extends Occupant {
  /** When it is gone by itself (a draining deployment stops); Infinity: not on its own. */
  goneAt: number;
  /** From when a dynamic model may evict it (a live, idle dynamic deployment); Infinity: never, as far as we know. */
  evictableFrom: number;
}

/**
 * What holds GPUs on the cluster's nodes and when each lets go, by the same rules the queue
 * step uses (`reconcile/queue.ts`, `reconcile/drain.ts`):
 * - draining: gone at the next pass when nothing is in flight, else once `drainTimeout` has
 *   passed since it began to drain (the latest it can take);
 * - live, dynamic, not pinned, nothing in flight, no batch lease: evictable once unused for
 *   `busyWindow` (now, when it already is);
 * - anything else (starting, in flight, under a batch lease, pinned, hot, a submitted job):
 *   nobody can say when, so never.
 */
function holders(res: SchedulerResources, cluster: string, now: number): Holder[] {
  const { drainTimeout, busyWindow } = res.config.scheduler;
  return res.snapshot
    .all()
    .filter((d) => d.cluster === cluster && d.nodeName && isUnfinishedDeployment(d.state))
    .map((d) => {
      const lastUsed = res.inFlight.lastUsed(d);
      const inFlight = res.inFlight.of(d.id);
      let goneAt = Number.POSITIVE_INFINITY;
      let evictableFrom = Number.POSITIVE_INFINITY;
      if (d.state === "draining") {
        goneAt = inFlight > 0 ? (d.drainingAt?.getTime() ?? now) + drainTimeout * 1000 : now;
      } else if (
        d.state === "live" &&
        res.catalog.ofRow(d.modelId)?.config.placement === "dynamic" &&
        !res.snapshot.isPinned(d.modelId) &&
        inFlight === 0 &&
        (d.busyUntil?.getTime() ?? 0) <= now
      ) {
        evictableFrom = lastUsed + busyWindow * 1000;
      }
      const occupant = { deploymentId: d.id, node: d.nodeName as string, gpus: d.gpus, evictable: false, lastUsed };
      return { ...occupant, goneAt, evictableFrom };
    });
}

/**
 * When a queued deployment that has no job yet gets its GPUs (ms by the injected clock), or
 * undefined when that cannot be known. It replays the queue step forward in time: at now and
 * at each moment a holder goes or becomes evictable, the queued deployments are placed in
 * arrival order (the ones ahead take their GPUs first), evicting idle dynamic deployments
 * least recently used first, exactly as `processQueue` does. Deployments placed ahead of it
 * keep their GPUs (their users are about to use them). Nothing left to wait for and still no
 * room: unknown.
 */
function placedAt(res: SchedulerResources, record: DeploymentRecord, now: number): number | undefined {
  const cluster = Catalog.of(res.config).findCluster(record.cluster);
  if (!cluster) return undefined;
  let present = holders(res, cluster.name, now);
  const waiting: { id: string; model: ResolvedModel; evicting: Set<string> }[] = [];
  for (const queued of res.snapshot.queued(cluster.name)) {
    if (queued.jobId) continue; // submitted: it already holds its node (a holder above)
    const model = res.catalog.ofRow(queued.modelId)?.config;
    if (model) waiting.push({ id: queued.id, model, evicting: res.memory.evictingFor.get(queued.id) ?? new Set() });
  }
  const moments = [
    ...new Set([now, ...present.flatMap((h) => [h.goneAt, h.evictableFrom]).filter((t) => t > now && t < Infinity)]),
  ].sort((a, b) => a - b);
  for (const t of moments) {
    present = present.filter((h) => h.goneAt > t);
    for (const h of present) h.evictable = h.evictableFrom <= t;
    for (const entry of [...waiting]) {
      const placed = (victims: readonly Occupant[]) => {
        const gone = new Set(victims.map((v) => v.deploymentId));
        present = present.filter((h) => !gone.has(h.deploymentId));
        waiting.splice(waiting.indexOf(entry), 1);
        return entry.id === record.id;
      };
      const node = placeModel(entry.model, cluster.nodes, present);
      const plan = node ? undefined : planEviction(entry.model, cluster.nodes, present);
      // While the deployments evicted for it drain it waits for them, as the queue step does.
      if (!node && present.some((h) => entry.evicting.has(h.deploymentId))) continue;
      const target = node ?? plan?.node;
      if (!target) continue;
      if (placed(plan?.evict ?? [])) return t;
      const taken = { deploymentId: entry.id, node: target.name, gpus: entry.model.gpus, lastUsed: t };
      present.push({ ...taken, evictable: false, goneAt: Infinity, evictableFrom: Infinity });
    }
  }
  return undefined;
}

/**
 * Seconds until a queued deployment should be live: the wait for its GPUs (behind the
 * deployments ahead of it, for what holds its node to drain or be evicted) plus its own load
 * time, rounded to 0.1 s. A job waiting in the launcher's queue (Slurm) waits until the start
 * that queue estimates. Null when the wait cannot be known: a submitted job the launcher has no
 * estimate for, or room that only a busy, pinned or hot deployment could make.
 */
export function queuedEtaSeconds(
  res: SchedulerResources,
  record: DeploymentRecord,
  loadSeconds: number,
  now: number,
): number | null {
  if (record.jobId) {
    if (!record.estimatedStartAt) return null;
    const wait = Math.max(0, record.estimatedStartAt.getTime() - now) / 1000;
    return Math.round((wait + loadSeconds) * 10) / 10;
  }
  const at = placedAt(res, record, now);
  if (at === undefined) return null;
  return Math.round(((at - now) / 1000 + loadSeconds) * 10) / 10;
}
