import { apiError, modelWaitDetail, type SwitchyardError } from "@switchyard/core";
import type { Availability, ColdStartRequester, Replica } from "@switchyard/scheduler";
import type { GatewayDeps } from "./handler";
import type { Target } from "./resolve";

/**
 * The 503 for a model with no replica to take the request: its state, where it stands, and when
 * to retry. A model still live by its deployments has them all out of rotation (their servers
 * died or stopped answering, and no replacement is live yet: a leader killed with its local
 * servers, say): the message says so instead of a bare "is live".
 */
export function notReady(target: Target, availability: Availability): SwitchyardError {
  const retryAfter = Math.min(60, Math.max(1, Math.ceil(availability.etaSeconds ?? 10)));
  const detail =
    availability.status === "live"
      ? " but none of its servers answers (a health check or a replacement is awaited)"
      : modelWaitDetail(availability);
  return apiError(
    "model_not_ready",
    { model: target.model.id, state: availability.status, detail, retryAfter },
    {
      retryAfter,
      extra: {
        model_state: availability.status,
        queue_position: availability.queuePosition,
        eta_seconds: availability.etaSeconds,
      },
    },
  );
}

/**
 * A live replica for the target, or (for a cold model, or one whose replica just died) start
 * it and hold the request up to `holdSeconds`; undefined when it is still not live (the
 * caller answers 503 with its state).
 */
export async function holdFor(
  deps: GatewayDeps,
  target: Target,
  gone: () => boolean,
  requestedBy?: ColdStartRequester,
): Promise<{ replica?: Replica; availability: Availability }> {
  const { scheduler } = deps;
  const cluster = target.cluster.name;
  const model = target.model.id;
  let replica: Replica | undefined;
  // A held request is demand: with enough of them the model gets more replicas.
  const waiting = scheduler.holdDemand(cluster, model);
  try {
    let availability = await scheduler.ensureLive(cluster, model, requestedBy);
    const deadline = Date.now() + deps.settings.holdSeconds * 1000;
    for (;;) {
      replica = scheduler.acquire(cluster, model);
      if (replica) return { replica, availability };
      availability = scheduler.availability(cluster, model);
      if (scheduler.clusterProblem(target.cluster)) return { availability };
      if (availability.status === "offline") availability = await scheduler.ensureLive(cluster, model, requestedBy);
      if (Date.now() >= deadline || gone()) return { availability };
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    waiting();
  }
}
