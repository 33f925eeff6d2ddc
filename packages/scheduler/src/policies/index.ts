import type { SchedulingPolicyName } from "@switchyard/core";
import { currentPolicy } from "./current";
import { predictivePolicy } from "./predictive";
import { referencePolicy } from "./reference";
import type { SchedulingPolicy } from "./types";

export { currentPolicy } from "./current";
export { DemandHistory, type DemandHistoryOptions } from "./demand-history";
export {
  expectedCost,
  PREDICTIVE_DEFAULTS,
  type PredictiveOptions,
  planCheapestEviction,
  predictivePolicy,
  savedSecondsPerGpu,
} from "./predictive";
export { referencePolicy } from "./reference";
export type { LiveDynamic, PolicyContext, PrewarmCandidate, QueuedFor, SchedulingPolicy } from "./types";

/** The policy of a name (`scheduler.policy`), fresh (a policy keeps no state; its context does). */
export function policyFor(name: SchedulingPolicyName): SchedulingPolicy {
  switch (name) {
    case "reference":
      return referencePolicy;
    case "predictive":
      return predictivePolicy();
    case "adaptive":
      // Pooled nodes hold more at once: idle models go sooner to stay within the reference's
      // GPU-hours (tuned by replaying seeded days; see docs/scheduler.md).
      return predictivePolicy({ pooled: true, keepSecondsPerGpu: 25 });
    default:
      return currentPolicy;
  }
}
