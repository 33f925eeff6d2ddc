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
      // Pooled nodes hold more at once: idle models go a little sooner to stay within the GPU-hours.
      return predictivePolicy({ pooled: true, keepProbability: 0.2 });
    default:
      return currentPolicy;
  }
}
