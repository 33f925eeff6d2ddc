import { formatDuration } from "@switchyard/core";
import { planEviction } from "../placement";
import type { SchedulingPolicy } from "./types";

/**
 * Switchyard's policy before there was a choice, and still the default: a live dynamic model
 * drains at its maximum lifetime, or after its idle TTL with nothing in flight; room for a new
 * one is made by evicting the least recently used idle deployments; nothing starts ahead of demand.
 */
export const currentPolicy: SchedulingPolicy = {
  name: "current",
  drainReason(d, { now }) {
    if (now - d.liveAt >= d.model.maxLifetime * 1000)
      return `maximum lifetime of ${formatDuration(d.model.maxLifetime)} reached`;
    if (now - d.lastUsed >= d.model.idleTtl * 1000 && d.inFlight === 0)
      return `idle for ${formatDuration(d.model.idleTtl)}`;
    return undefined;
  },
  planEviction(model, nodes, occupants) {
    const plan = planEviction(model, nodes, occupants);
    return plan && { ...plan, cause: "least recently used" };
  },
};
