import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness, until } from "./harness";

const sim = { type: "simulator" as const, loadTime: "200ms", profile: "fast" as const };

/**
 * The dashboard's doors to replicas: `models.list` counts a model's replicas by state with its
 * bounds, `jobs.list` says which replica each job is (PGlite is enough: this reads the scheduler).
 */
describe("replicas through the control plane", () => {
  let h: Harness;
  let user: Awaited<ReturnType<Harness["as"]>>;

  beforeAll(async () => {
    h = await startHarness("pglite", {
      scheduler: true,
      config: {
        models: [
          {
            id: "org/wide",
            cluster: "lab",
            framework: "vllm",
            capabilities: ["chat"],
            placement: "hot",
            node: "hot-1",
            minReplicas: 2,
            maxReplicas: 3,
            engine: sim,
          },
          {
            id: "org/dyn",
            cluster: "lab",
            framework: "vllm",
            capabilities: ["chat"],
            placement: "dynamic",
            engine: sim,
          },
        ],
      },
    });
    user = await h.as(h.tokens.user);
    await until(
      async () => (await user.models.list()).find((m) => m.id === "org/wide")?.replicas.live === 2,
      "both replicas of org/wide live",
    );
  });
  afterAll(() => h?.close());

  it("models.list reports a model with two live replicas as live: 2 of at most 3", async () => {
    const models = await user.models.list();
    expect(models.find((m) => m.id === "org/wide")).toMatchObject({
      status: "live",
      replicas: { live: 2, starting: 0, queued: 0, draining: 0, min: 2, max: 3 },
    });
    expect(models.find((m) => m.id === "org/dyn")?.replicas).toEqual({
      live: 0,
      starting: 0,
      queued: 0,
      draining: 0,
      min: 0,
      max: 1,
    });
  });

  it("jobs.list numbers each replica from 1, with how many its model may have", async () => {
    const view = await user.jobs.list({ cluster: "lab" });
    expect(view.running.map((j) => [j.models[0], j.node, j.replica, j.max_replicas]).sort()).toEqual([
      ["org/wide", "hot-1", 1, 3],
      ["org/wide", "hot-1", 2, 3],
    ]);
  });
});
