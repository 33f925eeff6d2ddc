import type { NodeConfig, ResolvedModel } from "@switchyard/core";

/** A deployment holding GPUs on a node, as placement sees it. */
export interface Occupant {
  deploymentId: string;
  node: string;
  gpus: number;
  /** May be stopped to make room: dynamic, not pinned, idle, no batch lease. */
  evictable: boolean;
  /** Last use (ms); the least recently used is evicted first. */
  lastUsed: number;
  /** Its model's key (`cluster/model`) and expected load time, for policies that weigh those. */
  modelKey?: string;
  loadSeconds?: number;
  /** A model the config places hot (evictable only under a policy that pools the nodes). */
  hot?: boolean;
}

export function freeGpus(node: NodeConfig, occupants: readonly Occupant[]): number {
  return node.gpus - occupants.filter((o) => o.node === node.name).reduce((sum, o) => sum + o.gpus, 0);
}

/**
 * Nodes a model may run on: its pinned hot node, or any node of its role. With `pooled` (a
 * policy that pools the nodes) a dynamic model may also use hot nodes, rotating ones first.
 */
export function candidateNodes(model: ResolvedModel, nodes: readonly NodeConfig[], pooled = false): NodeConfig[] {
  if (model.placement === "hot" && model.node) return nodes.filter((n) => n.name === model.node);
  if (pooled && model.placement === "dynamic")
    return [...nodes.filter((n) => n.role === "rotating"), ...nodes.filter((n) => n.role === "hot")];
  const role = model.placement === "hot" ? "hot" : "rotating";
  return nodes.filter((n) => n.role === role);
}

/**
 * The node to start a model on: among the candidates with enough free GPUs, the one left with
 * the fewest free afterwards (best fit keeps large holes for large models). Ties go to the
 * first node in config order.
 */
export function placeModel(
  model: ResolvedModel,
  nodes: readonly NodeConfig[],
  occupants: readonly Occupant[],
  pooled = false,
): NodeConfig | undefined {
  let best: NodeConfig | undefined;
  let bestLeft = Number.POSITIVE_INFINITY;
  for (const node of candidateNodes(model, nodes, pooled)) {
    const left = freeGpus(node, occupants) - model.gpus;
    if (left >= 0 && left < bestLeft) {
      best = node;
      bestLeft = left;
    }
  }
  return best;
}

/**
 * Place a model that is about to start and count its GPUs as taken in `occupants` (a pass's
 * working copy), so the next start planned in the same pass sees them: the node, or undefined
 * when it fits nowhere (a planned start never evicts). `label` names the placeholder occupant.
 */
export function placeAndHold(
  model: ResolvedModel,
  nodes: readonly NodeConfig[],
  occupants: Occupant[],
  pooled: boolean | undefined,
  label: string,
  now: number,
): NodeConfig | undefined {
  const node = placeModel(model, nodes, occupants, pooled);
  if (node) occupants.push({ deploymentId: label, node: node.name, gpus: model.gpus, evictable: false, lastUsed: now });
  return node;
}

export interface EvictionPlan {
  node: NodeConfig;
  evict: Occupant[];
}

/**
 * Room for a dynamic model by stopping idle dynamic deployments, least recently used first.
 * Per node, take evictable occupants in LRU order until the model fits; among nodes, prefer
 * the plan that evicts the fewest, then the one whose newest victim was used longest ago.
 * Never touches a deployment that is not evictable (in flight, batch lease, pinned, hot).
 */
export function planEviction(
  model: ResolvedModel,
  nodes: readonly NodeConfig[],
  occupants: readonly Occupant[],
): EvictionPlan | undefined {
  if (model.placement !== "dynamic") return undefined;
  let best: EvictionPlan | undefined;
  for (const node of candidateNodes(model, nodes)) {
    if (node.gpus < model.gpus) continue;
    let free = freeGpus(node, occupants);
    const victims: Occupant[] = [];
    const lru = occupants.filter((o) => o.node === node.name && o.evictable).sort((a, b) => a.lastUsed - b.lastUsed);
    for (const occupant of lru) {
      if (free >= model.gpus) break;
      victims.push(occupant);
      free += occupant.gpus;
    }
    if (free < model.gpus) continue;
    const newest = Math.max(...victims.map((v) => v.lastUsed), Number.NEGATIVE_INFINITY);
    const bestNewest = best ? Math.max(...best.evict.map((v) => v.lastUsed), Number.NEGATIVE_INFINITY) : 0;
    if (!best || victims.length < best.evict.length || (victims.length === best.evict.length && newest < bestNewest)) {
      best = { node, evict: victims };
    }
  }
  return best;
}
