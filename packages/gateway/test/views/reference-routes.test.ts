import {
  ClusterStatusMapSchema,
  EndpointListSchema,
  ModelDetailsListSchema,
  ResourceJobsViewSchema,
  WhoamiSchema,
} from "@switchyard/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startViewsHarness, until, type ViewsHarness } from "./harness";

/**
 * The reference gateway's routes and shapes, over real HTTP with the auth guard: a script
 * written for it parses our answers, and the security rules of our own views still hold.
 */
describe("the reference gateway's routes", () => {
  let views: ViewsHarness;
  let h: Harness;
  const tokens = { admin: "", member: "", outsider: "" };
  const sim = { type: "simulator" as const, loadTime: "300ms", profile: "fast" as const };

  const get = (path: string, token?: string) => views.get(path, token);

  beforeAll(async () => {
    views = await startViewsHarness(
      {
        gateway: {
          limits: {
            user: { tokensPerMinute: 60_000 },
            model: { tokensPerMinute: 100_000 },
            models: { "org/hot": { tokensPerMinute: 250_000 } },
            groups: { "physics-secret": { tokensPerMinute: 90_000 } },
          },
        },
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
          // Open only to a group: not in the public status.
          {
            name: "vault",
            launcher: { type: "local" },
            nodes: [{ name: "vault-1", gpus: 1, role: "rotating" }],
            frameworks: ["vllm"],
            allowedGroups: ["physics"],
          },
          { name: "metis", status: "coming_soon", frameworks: ["api"] },
        ],
        models: [
          {
            id: "org/hot",
            cluster: "lab",
            framework: "vllm",
            displayName: "Hot 8B",
            description: "A small model that is always loaded.",
            capabilities: ["chat", "tools", "reasoning", "batch"],
            contextLength: 131072,
            placement: "hot",
            engine: sim,
          },
          {
            id: "Org/Vision",
            cluster: "lab",
            framework: "vllm",
            capabilities: ["chat", "vision"],
            placement: "dynamic",
            engine: sim,
          },
          {
            id: "org/embed",
            cluster: "lab",
            framework: "vllm",
            capabilities: ["embedding"],
            placement: "dynamic",
            engine: sim,
          },
          {
            id: "org/private-model",
            cluster: "lab",
            framework: "vllm",
            description: "unique-private-description",
            capabilities: ["chat"],
            placement: "hot",
            allowedGroups: ["physics-secret"],
            engine: sim,
          },
        ],
      },
      (started) =>
        until(
          started,
          () =>
            ["org/hot", "org/private-model"].every((m) => started.scheduler.availability("lab", m).status === "live"),
          "hot models live",
        ),
    );
    h = views.h;
    tokens.admin = (await views.user("root", "admin", ["physics-secret"])).token;
    tokens.member = (await views.user("grace", "user", ["physics", "physics-secret"])).token;
    tokens.outsider = (await views.user("ada", "user")).token;
  });
  afterAll(() => views?.close());

  it("GET /resource_server/status needs no credentials and lists the clusters open to everyone", async () => {
    const res = await get("/resource_server/status");
    expect(res.status).toBe(200);
    expect(ClusterStatusMapSchema.parse(res.body)).toEqual({ lab: true, metis: false });
  });

  it("GET /resource_server/whoami answers the reference gateway's user object", async () => {
    const res = await get("/resource_server/whoami", tokens.member);
    expect(res.status).toBe(200);
    expect(WhoamiSchema.parse(res.body)).toMatchObject({
      name: "grace",
      username: "grace",
      user_group_uuids: ["physics", "physics-secret"],
      idp_id: "switchyard",
      idp_name: "Switchyard",
      auth_service: "access_token",
      role: "user",
    });
    expect(res.body.id).toMatch(/\S/);
    expect((await get("/resource_server/whoami")).status).toBe(401);
  });

  it("GET /resource_server/{cluster}/models gives each model's metadata, capabilities and limits, sorted", async () => {
    const res = await get("/resource_server/lab/models", tokens.outsider);
    expect(res.status).toBe(200);
    const models = ModelDetailsListSchema.parse(res.body);
    // Sorted case-insensitively, as the reference sorts; the restricted model is not there.
    expect(models.map((m) => m.id)).toEqual(["org/embed", "org/hot", "Org/Vision"]);
    expect(res.text).not.toContain("private-model");
    const hot = models.find((m) => m.id === "org/hot")!;
    expect(hot).toEqual({
      id: "org/hot",
      object: "model",
      cluster: "lab",
      framework: "vllm",
      display_name: "Hot 8B",
      description: "A small model that is always loaded.",
      capabilities: {
        schema_version: 1,
        api_protocols: ["chat_completions", "responses", "messages", "batches"],
        context_window_tokens: 131072,
        input_modalities: ["text"],
        streaming: true,
        reasoning: { supported: true, separate_output: true },
        tool_calling: { supported: true },
      },
      rate_limit_token_per_minute: 250_000,
      rate_limit_token_per_minute_per_user: 60_000,
    });
    const vision = models.find((m) => m.id === "Org/Vision")!;
    expect(vision.display_name).toBe("Org/Vision");
    expect(vision).not.toHaveProperty("description");
    expect(vision.capabilities).toMatchObject({
      api_protocols: ["chat_completions", "responses", "messages"],
      context_window_tokens: null,
      input_modalities: ["text", "image"],
      reasoning: { supported: false, separate_output: false },
      tool_calling: { supported: false },
    });
    expect(vision.rate_limit_token_per_minute).toBe(100_000);
    const embed = models.find((m) => m.id === "org/embed")!;
    expect(embed.capabilities).toMatchObject({ api_protocols: ["embeddings"], streaming: false });
    // No engine settings, weights paths or server keys.
    expect(res.text).not.toMatch(/engine|simulator|serverKey|sy-server-/);
  });

  it("?model_id= answers that one model; one the caller may not use is as absent as an unknown one", async () => {
    const one = await get("/resource_server/lab/models?model_id=org%2Fhot", tokens.outsider);
    expect(one.status).toBe(200);
    expect(one.body.map((m: { id: string }) => m.id)).toEqual(["org/hot"]);

    const hidden = await get("/resource_server/lab/models?model_id=org%2Fprivate-model", tokens.outsider);
    expect(hidden.status).toBe(404);
    expect(hidden.body.error.code).toBe("model_not_found");
    expect(hidden.text).not.toContain("unique-private-description");

    const member = await get("/resource_server/lab/models?model_id=org%2Fprivate-model", tokens.member);
    expect(member.status).toBe(200);
    expect(member.body[0].description).toBe("unique-private-description");
    // The member's group raises their own tokens-per-minute limit.
    expect(member.body[0].rate_limit_token_per_minute_per_user).toBe(90_000);

    expect((await get("/resource_server/lab/models?model_id=org%2Fnope", tokens.member)).status).toBe(404);
    expect((await get("/resource_server/nowhere/models", tokens.member)).body.error.code).toBe("cluster_not_found");
    const vault = await get("/resource_server/vault/models", tokens.outsider);
    expect(vault.status).toBe(403);
    expect(vault.body.error.code).toBe("cluster_access_denied");
  });

  it("GET /resource_server/{cluster}/jobs carries the reference groups and keys beside ours", async () => {
    h.clock.advance(3_725_000);
    const res = await get("/resource_server/lab/jobs", tokens.outsider);
    expect(res.status).toBe(200);
    const view = ResourceJobsViewSchema.parse(res.body);
    expect(view.private_batch_running).toEqual([]);
    expect(view.private_batch_queued).toEqual([]);
    const hot = view.running.find((j) => j.Models === "org/hot")!;
    // Our own fields are all still there.
    expect(hot).toMatchObject({
      models: ["org/hot"],
      framework: "vllm",
      state: "live",
      model_status: "live",
      host: null,
    });
    expect(hot).toMatchObject({
      Framework: "vllm",
      Cluster: "lab",
      "Job State": "R",
      "Host Name": null,
      "Nodes Reserved": "1",
      "Model Status": "running",
    });
    expect(hot["Job ID"]).toBe(hot.launcher_job_id ?? hot.job_id);
    expect(hot.Walltime).toMatch(/^01:02:0\d$/);
    expect(hot).not.toHaveProperty("Estimated Start Time");
    // The restricted model's job: its GPUs and state, not its name.
    const hidden = view.running.find((j) => j.models.length === 0)!;
    expect(hidden).toMatchObject({ Models: "", Framework: "", "Job State": "R" });
    // Which replica it is, but not how many its model may have (that is the model's config).
    expect([hidden.replica, hidden.max_replicas]).toEqual([1, null]);
    expect([hot.replica, hot.max_replicas]).toEqual([1, 1]);
    expect(res.text).not.toContain("private-model");
    // Models with nothing running or queued.
    expect(view.stopped).toEqual([
      { Models: "Org/Vision", Framework: "vllm", Cluster: "lab", "Model Status": "stopped" },
      { Models: "org/embed", Framework: "vllm", Cluster: "lab", "Model Status": "stopped" },
    ]);
    expect(view.cluster_status).toEqual({
      cluster: "lab",
      free_nodes: 1,
      maintenance: false,
      total_models: 3,
      live_models: 1,
      stopped_models: 2,
    });
  });

  it("shows the Host Name to an admin acting as one only, and names restricted models to their groups", async () => {
    const record = h.scheduler
      .deployments()
      .find((d) => d.id === h.scheduler.availability("lab", "org/hot").deploymentId)!;
    const admin = ResourceJobsViewSchema.parse((await get("/resource_server/lab/jobs", tokens.admin)).body);
    expect(admin.running.find((j) => j.Models === "org/hot")?.["Host Name"]).toBe(record.host);
    const member = await get("/resource_server/lab/jobs", tokens.member);
    expect(member.text).not.toContain(record.host!);
    expect(member.body.running.map((j: { Models: string }) => j.Models).sort()).toEqual([
      "org/hot",
      "org/private-model",
    ]);
  });

  it("in maintenance reports every model under stopped, and the public status says the cluster is down", async () => {
    await h.scheduler.setMaintenance("lab", "new GPUs");
    try {
      const view = ResourceJobsViewSchema.parse((await get("/resource_server/lab/jobs", tokens.outsider)).body);
      expect(view.stopped.map((s) => s.Models)).toEqual(["Org/Vision", "org/embed", "org/hot"]);
      expect(view.cluster_status).toMatchObject({ maintenance: true, total_models: 3, stopped_models: 3 });
      expect(view.stopped.every((s) => s["Model Status"] === "stopped")).toBe(true);
      expect((await get("/resource_server/status")).body).toEqual({ lab: false, metis: false });
    } finally {
      await h.scheduler.setMaintenance("lab", null);
    }
  });

  it("GET /resource_server/list-endpoints lists endpoint paths and sorted models as the reference does", async () => {
    const res = await get("/resource_server/list-endpoints", tokens.outsider);
    const list = EndpointListSchema.parse(res.body);
    const vllm = list.clusters.lab!.frameworks.vllm!;
    expect(vllm.models).toEqual(["Org/Vision", "org/embed", "org/hot"]);
    expect(vllm.endpoints).toEqual([
      "/v1/chat/completions",
      "/v1/completions",
      "/v1/responses",
      "/v1/messages",
      "/v1/embeddings",
      "/v1/batches",
    ]);
    expect(vllm.endpoint_urls.chat).toBe("/resource_server/lab/vllm/v1/chat/completions");
    expect(vllm.endpoint_urls.batch).toBe("/resource_server/v1/batches");
    expect(list.clusters.lab!.base_url).toBe("/resource_server/lab");
  });
});
