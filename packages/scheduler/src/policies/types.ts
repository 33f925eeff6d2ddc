import type { NodeConfig, ResolvedModel, SchedulingPolicyName } from "@switchyard/core";
import type { EvictionPlan, Occupant } from "../placement";
import type { DemandHistory } from "./demand-history";

/** What a policy may read besides its arguments: the time and the demand seen so far. */
export interface PolicyContext {
  now: number;
  demand: DemandHistory;
}

/** A live dynamic deployment that may drain: not pinned, no batch lease. */
export interface LiveDynamic {
  /** The model's key (`cluster/model`). */
  key: string;
  model: ResolvedModel;
  /** When it went live (ms). */
  liveAt: number;
  /** When it last took a request (ms; its live time if never). */
  lastUsed: number;
  inFlight: number;
}

/** The queued deployment room is wanted for: its model's key and since when it waits (ms). */
export interface QueuedFor {
  key: string;
  since: number;
}

/** A dynamic model with no current deployment, which a policy may start before anyone asks. */
export interface PrewarmCandidate {
  key: string;
  model: ResolvedModel;
}

/**
 * A scheduling policy: pure decisions of the reconcile steps about dynamic models. The real
 * scheduler and `switchyard trace replay` call the same functions.
 */
export interface SchedulingPolicy {
  /** Its `scheduler.policy` name (a bound used only in replays may have another). */
  readonly name: SchedulingPolicyName | (string & {});
  /**
   * Pools all nodes: dynamic models may also run on hot nodes, and models the config places hot
   * (unless an operator pinned them) are kept, evicted and started again like dynamic ones, by
   * demand, instead of being restarted whatever it costs. They never drain for idleness.
   */
  readonly poolsNodes?: boolean;
  /** Reads `ctx.demand`: the leader feeds it every instance's requests from the usage records. */
  readonly learnsDemand?: boolean;
  /** Why a live dynamic deployment drains now (its state reason), or undefined to keep it. */
  drainReason(deployment: LiveDynamic, ctx: PolicyContext): string | undefined;
  /**
   * Which evictable deployments to stop to make room for a queued dynamic model, and on which
   * node; undefined: it waits for GPUs to free. `cause` completes "evicted (...) to make room".
   */
  planEviction(
    model: ResolvedModel,
    nodes: readonly NodeConfig[],
    occupants: readonly Occupant[],
    ctx: PolicyContext,
    queued: QueuedFor,
  ): (EvictionPlan & { cause: string }) | undefined;
  /**
   * Models to start before a request, most wanted first (each only where GPUs are free: a
   * start ahead of demand never evicts). Undefined when the policy never does.
   */
  prewarm?(candidates: readonly PrewarmCandidate[], ctx: PolicyContext): PrewarmCandidate[];
}
