import { JobsViewSchema, ModelListSchema, ModelObjectSchema } from "@switchyard/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startViewsHarness, until, type ViewsHarness } from "./harness";

/**
 * A model's replicas where users look: `/v1/models` (both doors) and one model count them by
 * state with their bounds; each job of the jobs view says which replica it is, of how many.
 */
describe("replicas in the model list and the jobs view", () => {
  let views: ViewsHarness;
  let token = "";
  const sim = { type: "simulator" as const, loadTime: "300ms", profile: "fast" as const };

  beforeAll(async () => {
    views = await startViewsHarness(
      {
        clusters: [
          {
            name: "lab",
            launcher: { type: "local" },
            nodes: [
              { name: "hot-1", gpus: 2, role: "hot" },
              { name: "rot-1", gpus: 4, role: "rotating" },
            ],
            frameworks: ["vllm"],
          },
        ],
        models: [
          // Two replicas kept whatever the demand, up to four with it.
          {
            id: "org/wide",
            cluster: "lab",
            framework: "vllm",
            capabilities: ["chat"],
            placement: "hot",
            minReplicas: 2,
            maxReplicas: 4,
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
      async (h) => {
        await until(
          h,
          () => h.scheduler.deploymentsOf("lab", "org/wide").filter((d) => d.state === "live").length === 2,
          "both replicas of org/wide live",
        );
      },
    );
    token = (await views.user("grace", "user")).token;
  });
  afterAll(() => views?.close());

  it("GET /v1/models reports a model with two live replicas as live: 2, with its bounds", async () => {
    const res = await views.get("/v1/models", token);
    expect(res.status).toBe(200);
    const list = ModelListSchema.parse(res.body);
    const byId = new Map(list.data.map((m) => [m.id, m]));
    expect(byId.get("org/wide")?.replicas).toEqual({ live: 2, starting: 0, queued: 0, draining: 0, min: 2, max: 4 });
    // A dynamic model defaults to 0..1 and has nothing running yet.
    expect(byId.get("org/dyn")?.replicas).toEqual({ live: 0, starting: 0, queued: 0, draining: 0, min: 0, max: 1 });
  });

  it("one model and the reference door's list carry the same replicas", async () => {
    const one = await views.get("/v1/models/org/wide", token);
    expect(one.status).toBe(200);
    expect(ModelObjectSchema.parse(one.body).replicas).toMatchObject({ live: 2, min: 2, max: 4 });
    const reference = await views.get("/resource_server/lab/vllm/v1/models", token);
    expect(reference.status).toBe(200);
    const wide = ModelListSchema.parse(reference.body).data.find((m) => m.id === "org/wide");
    expect(wide?.replicas).toMatchObject({ live: 2, min: 2, max: 4 });
  });

  it("each job says which replica it is (counted from 1) and of how many the model may have", async () => {
    const res = await views.get("/resource_server/lab/jobs", token);
    expect(res.status).toBe(200);
    const view = JobsViewSchema.parse(res.body);
    const wide = view.running.filter((j) => j.models[0] === "org/wide");
    expect(wide.map((j) => [j.replica, j.max_replicas]).sort()).toEqual([
      [1, 4],
      [2, 4],
    ]);
    // The reference gateway's keys are unchanged beside ours.
    expect(res.body.running[0]).toMatchObject({ "Job State": "R", "Model Status": "running" });
  });
});
