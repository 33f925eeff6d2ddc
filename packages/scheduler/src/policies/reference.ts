import { formatDuration } from "@switchyard/core";
import type { SchedulingPolicy } from "./types";

/**
 * What the reference service does: the hot set is fixed, a dynamic model starts on its first
 * request (in arrival order) and holds its node until its maximum lifetime (24 h by default)
 * whether used or not; nothing is stopped for idleness and nothing is evicted, so a model that
 * finds no free GPUs waits until one of those lifetimes ends.
 */
export const referencePolicy: SchedulingPolicy = {
  name: "reference",
  drainReason(d, { now }) {
    if (now - d.liveAt >= d.model.maxLifetime * 1000)
      return `maximum lifetime of ${formatDuration(d.model.maxLifetime)} reached`;
    return undefined;
  },
  planEviction() {
    return undefined;
  },
};
