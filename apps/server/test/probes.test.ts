import { describe, expect, it } from "vitest";
import type { ProcessContext } from "../src/context";
import { health, readiness } from "../src/probes";
import type { InstanceRole } from "../src/roles";

/** Just what the probes read: the database's answer, the scheduler's cache, the roles. */
function instance(options: { roles: InstanceRole[]; databaseUp: boolean; live: number; leader?: boolean }) {
  const deployments = Array.from({ length: options.live + 1 }, (_, i) => ({
    id: `dep_${i}`,
    state: i < options.live ? "live" : "failed",
  }));
  return {
    roles: options.roles,
    version: "0.1.0",
    startedAt: 0,
    clock: { now: () => 61_000 },
    db: { driver: "postgres", ping: async () => options.databaseUp },
    scheduler: {
      deployments: () => deployments,
      routableReplicas: () => deployments.filter((d) => d.state === "live").length,
      isLeader: options.leader ?? false,
    },
    batches: { worker: undefined },
    usage: { pending: 7 },
  } as unknown as ProcessContext;
}

describe("readiness for load balancers", () => {
  it("keeps a gateway ready without its database while live replicas are cached, and not once the cache is cold", async () => {
    expect(await readiness(instance({ roles: ["gateway"], databaseUp: true, live: 0 }))).toEqual({
      status: 200,
      body: { status: "ready", roles: ["gateway"], database: "up" },
    });
    expect(await readiness(instance({ roles: ["gateway"], databaseUp: false, live: 2 }))).toEqual({
      status: 200,
      body: {
        status: "ready",
        roles: ["gateway"],
        database: "down",
        degraded: "the database is unreachable; serving 2 live replicas from the cache",
      },
    });
    expect(await readiness(instance({ roles: ["gateway"], databaseUp: false, live: 0 }))).toEqual({
      status: 503,
      body: {
        status: "not_ready",
        roles: ["gateway"],
        database: "down",
        reason: "the database is unreachable and no live replica is cached to route to",
      },
    });
  });

  it("says a scheduler or batch worker without its database is not ready, and a standby with it is", async () => {
    const down = await readiness(instance({ roles: ["scheduler", "batch"], databaseUp: false, live: 3 }));
    expect(down.status).toBe(503);
    expect(down.body.reason).toBe("the database is unreachable (the scheduler and batch roles cannot work without it)");
    expect((await readiness(instance({ roles: ["scheduler"], databaseUp: true, live: 0, leader: false }))).status).toBe(
      200,
    );
  });

  it("names the roles in /health, keeping its fields and status codes", async () => {
    expect(
      await health(instance({ roles: ["gateway", "scheduler"], databaseUp: true, live: 0, leader: true })),
    ).toEqual({
      status: 200,
      body: {
        status: "ok",
        version: "0.1.0",
        database: { driver: "postgres", status: "up" },
        uptime_seconds: 61,
        roles: ["gateway", "scheduler"],
        scheduler: { leader: true },
      },
    });
    const down = await health(instance({ roles: ["gateway"], databaseUp: false, live: 1 }));
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ status: "unavailable", database: { status: "down" }, roles: ["gateway"] });
    expect(down.body).not.toHaveProperty("scheduler");
    // What a gateway still does without its database: it is degraded, not down.
    expect(down.body.degraded).toEqual({
      reason: "the database is unreachable; live models are served from the cache",
      live_replicas: 1,
      usage_buffered: 7,
    });
    const cold = await health(instance({ roles: ["gateway"], databaseUp: false, live: 0 }));
    expect(cold.body).not.toHaveProperty("degraded");
    const scheduler = await health(instance({ roles: ["scheduler"], databaseUp: false, live: 1 }));
    expect(scheduler.body).not.toHaveProperty("degraded");
  });
});
