import { canUseModel } from "@switchyard/auth";
import type { DeploymentEventView } from "@switchyard/core";
import type { DeploymentEvent } from "@switchyard/scheduler";
import { protectedProcedure, router } from "../trpc";

/** Events held for a slow client before the oldest are dropped (it refetches on reconnect anyway). */
const MAX_BACKLOG = 1000;

export const eventsRouter = router({
  /**
   * The scheduler's change feed as server-sent events: every deployment state change this
   * process makes, as it happens. Non-admins get the changes of models they may use.
   */
  deployments: protectedProcedure.subscription(async function* ({ ctx, signal }) {
    const { config, scheduler } = ctx.deps;
    const principal = ctx.principal;
    const clusters = new Map(config.clusters.map((c) => [c.name, c]));
    const visible = (event: DeploymentEvent): boolean => {
      if (principal.role === "admin") return true;
      const cluster = clusters.get(event.cluster);
      const model = config.models.find((m) => m.cluster === event.cluster && m.id === event.model);
      return cluster !== undefined && model !== undefined && canUseModel(principal, cluster, model);
    };
    const backlog: DeploymentEvent[] = [];
    let wake: (() => void) | undefined;
    const unsubscribe = scheduler.subscribe((event) => {
      if (!visible(event)) return;
      backlog.push(event);
      if (backlog.length > MAX_BACKLOG) backlog.shift();
      wake?.();
    });
    const aborted = new Promise<void>((resolve) => {
      if (signal?.aborted) resolve();
      signal?.addEventListener("abort", () => resolve(), { once: true });
    });
    try {
      while (!signal?.aborted) {
        if (backlog.length === 0) {
          await Promise.race([
            new Promise<void>((resolve) => {
              wake = resolve;
            }),
            aborted,
          ]);
          wake = undefined;
        }
        while (backlog.length > 0) {
          const event = backlog.shift()!;
          const view: DeploymentEventView = { ...event };
          yield view;
        }
      }
    } finally {
      unsubscribe();
    }
  }),
});
