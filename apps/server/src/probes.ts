import cluster from "node:cluster";
import type { ProcessContext } from "./context";

/** A probe's answer: its HTTP status and JSON body. */
export interface ProbeAnswer {
  status: number;
  body: Record<string, unknown>;
}

/**
 * `GET /health`: liveness, database reachability (503 when it is down; a gateway that still
 * serves live models from its cache then adds `degraded`), Redis's when a gateway
 * uses it (down: `degraded`, still 200), and what this instance runs: its roles, whether its
 * scheduler leads or stands by, how many batches its worker runs (a count: it is public).
 */
export async function health(ctx: ProcessContext, redis?: { up: boolean }): Promise<ProbeAnswer> {
  const up = await ctx.db.ping();
  // Without Redis a gateway still serves (limits in its own memory): degraded, not down.
  const redisUp = redis?.up ?? true;
  return {
    status: up ? 200 : 503,
    body: {
      status: up ? (redisUp ? "ok" : "degraded") : "unavailable",
      version: ctx.version,
      database: { driver: ctx.db.driver, status: up ? "up" : "down" },
      ...(up ? {} : withoutDatabase(ctx)),
      ...(redis ? { redis: { status: redisUp ? "up" : "down" } } : {}),
      uptime_seconds: Math.round((ctx.clock.now() - ctx.startedAt) / 1000),
      roles: ctx.roles,
      // Which gateway worker of `serve --workers N` answered (a number from 1, not a process id).
      ...(cluster.isWorker ? { worker: Number(ctx.env.SWITCHYARD_GATEWAY_WORKER) || cluster.worker?.id } : {}),
      ...(ctx.roles.includes("scheduler") ? { scheduler: { leader: ctx.scheduler.isLeader } } : {}),
      // A count, not the ids: /health is public on a gateway.
      ...(ctx.batches.worker ? { batch: { running: ctx.batches.worker.running().length } } : {}),
    },
  };
}

/**
 * With the database down, what a gateway still does: `degraded` says how many live replicas it
 * routes to from its cache and how many usage records wait to be written (none: it serves nothing).
 */
function withoutDatabase(ctx: ProcessContext): Record<string, unknown> {
  if (!ctx.roles.includes("gateway")) return {};
  const live = ctx.scheduler.routableReplicas();
  if (live === 0) return {};
  return {
    degraded: {
      reason: "the database is unreachable; live models are served from the cache",
      live_replicas: live,
      usage_buffered: ctx.usage.pending,
    },
  };
}

/**
 * `GET /ready`, for a load balancer: 200 when this instance can do its work, 503 with the
 * reason otherwise. A gateway decides for the instance (the traffic a balancer sends is its):
 * with the database reachable it is ready; without, it stays ready while it has live replicas
 * in its cache to route to (it keeps serving them), and is not once that cache is cold. An
 * instance without the gateway (a scheduler, a batch worker) is ready when its database is
 * reachable: nothing it does works without it. A standby scheduler is ready (to take over).
 */
export async function readiness(ctx: ProcessContext): Promise<ProbeAnswer> {
  const up = await ctx.db.ping();
  const live = ctx.scheduler.routableReplicas();
  const base = { roles: ctx.roles, database: up ? "up" : "down" };
  if (up) return { status: 200, body: { status: "ready", ...base } };
  if (ctx.roles.includes("gateway") && live > 0) {
    return {
      status: 200,
      body: {
        status: "ready",
        ...base,
        degraded: `the database is unreachable; serving ${live} live replica${live === 1 ? "" : "s"} from the cache`,
      },
    };
  }
  const reason = ctx.roles.includes("gateway")
    ? "the database is unreachable and no live replica is cached to route to"
    : `the database is unreachable (the ${ctx.roles.join(" and ")} role${ctx.roles.length === 1 ? "" : "s"} cannot work without it)`;
  return { status: 503, body: { status: "not_ready", ...base, reason } };
}
