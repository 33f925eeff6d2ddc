import { actsAsAdmin, canUseModel, type Principal } from "@switchyard/auth";
import { apiError, Catalog, type DeploymentEventView, SwitchyardError } from "@switchyard/core";
import type { DeploymentEvent } from "@switchyard/scheduler";
import type { ApiContext, ApiDeps } from "../context";
import { protectedProcedure, router, toTRPCError } from "../trpc";

/** Events held for a slow client before the oldest are dropped (it refetches on reconnect anyway). */
const MAX_BACKLOG = 1000;

/** Open event streams per user, per process (each server's deps). */
const openStreams = new WeakMap<ApiDeps, Map<string, number>>();

/** Count a new stream for the user, or refuse it (429) when they hold the configured number already. */
function claimStream(deps: ApiDeps, userId: string): () => void {
  let perUser = openStreams.get(deps);
  if (!perUser) {
    perUser = new Map();
    openStreams.set(deps, perUser);
  }
  const open = perUser.get(userId) ?? 0;
  const limit = deps.config.controlPlane.eventStreamsPerUser;
  if (open >= limit) throw toTRPCError(apiError("too_many_event_streams", { open, limit }));
  perUser.set(userId, open + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const now = (perUser.get(userId) ?? 1) - 1;
    if (now > 0) perUser.set(userId, now);
    else perUser.delete(userId);
  };
}

/**
 * The caller's credentials checked again: the fresh principal, or the 401 that ends the stream.
 * In-process callers (no credentials) keep the principal they started with.
 */
async function recheck(ctx: ApiContext, principal: Principal): Promise<Principal | SwitchyardError> {
  if (!ctx.credentials) return principal;
  try {
    return await ctx.deps.auth.authenticate(ctx.credentials.authorization, ctx.credentials.apiKey);
  } catch (error) {
    if (error instanceof SwitchyardError && error.status === 401) return error;
    throw error;
  }
}

export const eventsRouter = router({
  /**
   * The scheduler's change feed as server-sent events: every deployment state change this
   * process makes, as it happens. Non-admins get the changes of models they may use. The
   * caller's credentials are checked again whenever credentials change anywhere (a revoked
   * key, a disabled user) and every principal-cache TTL, and the stream ends with their 401.
   */
  deployments: protectedProcedure.subscription(async function* ({ ctx, signal }) {
    const { config, scheduler, auth } = ctx.deps;
    let principal: Principal = ctx.principal;
    const release = claimStream(ctx.deps, principal.userId);
    const catalog = Catalog.of(config);
    const visible = (event: DeploymentEvent): boolean => {
      if (actsAsAdmin(principal)) return true;
      const cluster = catalog.findCluster(event.cluster);
      const model = event.model === null ? undefined : catalog.findById(event.cluster, event.model);
      return cluster !== undefined && model !== undefined && canUseModel(principal, cluster, model);
    };
    const backlog: DeploymentEvent[] = [];
    let wake: (() => void) | undefined;
    let ended: SwitchyardError | undefined;
    let checking = false;
    let checkAgain = false;
    const check = () => {
      if (ended) return;
      // A change during a check may postdate what that check read: check once more after it.
      if (checking) {
        checkAgain = true;
        return;
      }
      checking = true;
      void recheck(ctx, principal)
        .then((result) => {
          if (result instanceof SwitchyardError) ended = result;
          else principal = result;
        })
        .catch(() => {}) // the database is down: keep the stream, the next check decides
        .finally(() => {
          checking = false;
          wake?.();
          if (checkAgain) {
            checkAgain = false;
            check();
          }
        });
    };
    const unsubscribe = scheduler.subscribe((event) => {
      if (!visible(event)) return;
      backlog.push(event);
      if (backlog.length > MAX_BACKLOG) backlog.shift();
      wake?.();
    });
    const stopWatching = auth.onCredentialsChanged(check);
    const timer = setInterval(check, Math.max(1000, auth.settings.principalCacheTtl * 1000));
    timer.unref();
    const aborted = new Promise<void>((resolve) => {
      if (signal?.aborted) resolve();
      signal?.addEventListener("abort", () => resolve(), { once: true });
    });
    try {
      while (!signal?.aborted) {
        if (backlog.length === 0 && !ended) {
          await Promise.race([
            new Promise<void>((resolve) => {
              wake = resolve;
            }),
            aborted,
          ]);
          wake = undefined;
        }
        if (ended) throw toTRPCError(ended);
        while (backlog.length > 0) {
          const event = backlog.shift()!;
          const view: DeploymentEventView = { ...event };
          yield view;
        }
      }
    } finally {
      clearInterval(timer);
      stopWatching();
      unsubscribe();
      release();
    }
  }),
});
