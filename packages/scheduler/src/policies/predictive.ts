import { formatDuration, type NodeConfig, type ResolvedModel } from "@switchyard/core";
import { candidateNodes, type EvictionPlan, freeGpus, type Occupant } from "../placement";
import type { PolicyContext, SchedulingPolicy } from "./types";

export interface PredictiveOptions {
  /** How far ahead "asked for again soon" looks (default 1 h). */
  horizonMs: number;
  /**
   * An idle model drains once the wait it is expected to save per GPU it holds is below this:
   * the chance of a request within the horizon times its load time, over its GPUs (seconds per
   * GPU; default 15). A model on 8 GPUs must be far likelier to be asked for than one on 1 GPU to
   * stay: GPUs held idle are what a policy pays for its warm models.
   */
  keepSecondsPerGpu: number;
  /** ...and it has been idle at least this long (default 20 min). */
  minIdleMs: number;
  /** A model with no deployment starts ahead of demand once that chance is at least this (default 0.6)... */
  prewarmProbability: number;
  /** ...and the wait it is expected to save per GPU (as for keeping) is at least this (default 100 s). */
  prewarmSecondsPerGpu: number;
  /**
   * A queued model evicts others only when it is expected to be asked for more often within the
   * horizon than they are (each weighted by its load time), or once it has waited this long.
   * Default 0: always make room (the cheapest victims); a longer wait spares popular models at
   * the price of long waits for rare ones (replay both before raising it).
   */
  maxQueueWaitMs: number;
  /** Pool all nodes (the `adaptive` policy; see `SchedulingPolicy.poolsNodes`). */
  pooled: boolean;
  /** Sessions per horizon a model the config places hot is assumed to have, at least (default 2). */
  hotPriorSessions: number;
}

export const PREDICTIVE_DEFAULTS: PredictiveOptions = {
  horizonMs: 3_600_000,
  keepSecondsPerGpu: 15,
  minIdleMs: 20 * 60_000,
  prewarmProbability: 0.6,
  prewarmSecondsPerGpu: 100,
  maxQueueWaitMs: 0,
  pooled: false,
  hotPriorSessions: 2,
};

/**
 * What losing a deployment is expected to cost: the sessions expected within the horizon (one
 * more while a session is under way), each waiting its load time again (in seconds).
 */
export function expectedCost(occupant: Occupant, ctx: PolicyContext, horizonMs: number, hotPrior = 0): number {
  if (!occupant.modelKey) return 0;
  const sessions =
    Math.max(ctx.demand.expectedSessions(occupant.modelKey, ctx.now, horizonMs), occupant.hot ? hotPrior : 0) +
    (ctx.demand.inSession(occupant.modelKey, ctx.now) ? 1 : 0);
  return sessions * (occupant.loadSeconds ?? 600);
}

/**
 * Room for a model at the least expected cost: per node, evictable occupants cheapest first
 * (least recently used among equals) until the model fits, then any victim the model does not
 * need after all is spared; among nodes, the cheapest plan, then the one evicting fewest.
 */
export function planCheapestEviction(
  model: ResolvedModel,
  nodes: readonly NodeConfig[],
  occupants: readonly Occupant[],
  ctx: PolicyContext,
  horizonMs: number,
  pool: { pooled: boolean; hotPrior: number } = { pooled: false, hotPrior: 0 },
): (EvictionPlan & { cost: number }) | undefined {
  if (model.placement !== "dynamic" && !pool.pooled) return undefined;
  let best: { plan: EvictionPlan; cost: number } | undefined;
  for (const node of candidateNodes(model, nodes, pool.pooled)) {
    if (node.gpus < model.gpus) continue;
    const free = freeGpus(node, occupants);
    const costed = occupants
      .filter((o) => o.node === node.name && o.evictable)
      .map((o) => ({ o, cost: expectedCost(o, ctx, horizonMs, pool.hotPrior) }))
      .sort((a, b) => a.cost - b.cost || a.o.lastUsed - b.o.lastUsed);
    const victims: typeof costed = [];
    let room = free;
    for (const c of costed) {
      if (room >= model.gpus) break;
      victims.push(c);
      room += c.o.gpus;
    }
    if (room < model.gpus) continue;
    // Spare the dearest victims whose GPUs turn out not to be needed.
    for (const c of [...victims].sort((a, b) => b.cost - a.cost)) {
      if (room - c.o.gpus >= model.gpus) {
        victims.splice(victims.indexOf(c), 1);
        room -= c.o.gpus;
      }
    }
    const cost = victims.reduce((sum, c) => sum + c.cost, 0);
    if (!best || cost < best.cost || (cost === best.cost && victims.length < best.plan.evict.length)) {
      best = { plan: { node, evict: victims.map((c) => c.o) }, cost };
    }
  }
  return best && { ...best.plan, cost: best.cost };
}

/** The wait a model's deployment is expected to save per GPU it holds (s): chance × load time / GPUs. */
export function savedSecondsPerGpu(model: ResolvedModel, probability: number): number {
  return (probability * model.expectedLoadTime) / Math.max(1, model.gpus);
}

/**
 * Demand-aware: learns when each model is asked for (sessions, recent rate, hour of the day).
 * Evicts what is least likely to be asked for within the horizon, weighted by how long it takes
 * to load again; keeps an idle model while it is likely to be asked for (up to its maximum
 * lifetime) and lets it go after `minIdle` once it is not (likeliness weighed against the GPUs it
 * holds); starts a model with no deployment where GPUs are free when a request for it is likely
 * within the horizon and worth the GPUs.
 */
export function predictivePolicy(options: Partial<PredictiveOptions> = {}): SchedulingPolicy {
  const o = { ...PREDICTIVE_DEFAULTS, ...options };
  const horizon = formatDuration(o.horizonMs / 1000);
  const pool = { pooled: o.pooled, hotPrior: o.hotPriorSessions };
  /** Sessions expected within the horizon, at least the prior for a model the config places hot. */
  const expected = (key: string, model: ResolvedModel, now: number, ctx: PolicyContext) =>
    Math.max(
      ctx.demand.expectedSessions(key, now, o.horizonMs),
      o.pooled && model.placement === "hot" ? o.hotPriorSessions : 0,
    );
  return {
    name: o.pooled ? "adaptive" : "predictive",
    learnsDemand: true,
    ...(o.pooled ? { poolsNodes: true } : {}),
    drainReason(d, ctx) {
      if (ctx.now - d.liveAt >= d.model.maxLifetime * 1000)
        return `maximum lifetime of ${formatDuration(d.model.maxLifetime)} reached`;
      if (d.inFlight > 0 || ctx.now - d.lastUsed < o.minIdleMs) return undefined;
      const p = ctx.demand.probability(d.key, ctx.now, o.horizonMs);
      if (savedSecondsPerGpu(d.model, p) >= o.keepSecondsPerGpu) return undefined;
      return `idle for ${formatDuration(Math.floor((ctx.now - d.lastUsed) / 60_000) * 60)} and unlikely to be asked for within ${horizon} (${Math.round(p * 100)} %, on ${d.model.gpus} GPU${d.model.gpus === 1 ? "" : "s"})`;
    },
    planEviction(model, nodes, occupants, ctx, queued) {
      const plan = planCheapestEviction(model, nodes, occupants, ctx, o.horizonMs, pool);
      if (!plan) return undefined;
      const value = expected(queued.key, model, ctx.now, ctx) * model.expectedLoadTime;
      if (plan.cost > value && ctx.now - queued.since < o.maxQueueWaitMs) return undefined;
      return { node: plan.node, evict: plan.evict, cause: "least likely to be needed soon" };
    },
    prewarm(candidates, ctx) {
      return candidates
        .map((c) => ({
          c,
          p: ctx.demand.inSession(c.key, ctx.now) ? 1 : 1 - Math.exp(-expected(c.key, c.model, ctx.now, ctx)),
        }))
        .filter(({ c, p }) => p >= o.prewarmProbability && savedSecondsPerGpu(c.model, p) >= o.prewarmSecondsPerGpu)
        .sort((a, b) => b.p * b.c.model.expectedLoadTime - a.p * a.c.model.expectedLoadTime)
        .map(({ c }) => c);
    },
  };
}
