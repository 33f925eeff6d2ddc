import { ErrorBodySchema, ModelListSchema } from "@switchyard/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../src";
import { ADMIN_PASSWORD, memoryLogger, passwordToken, scrapeMetrics, tempDataDir } from "./helpers";

/** The embedded default end to end: the built-in catalog, the scheduler running, simulators launched. */
describe("switchyard serve with the built-in catalog", () => {
  let server: RunningServer;
  let token: string;
  /** From the server answering (startServer resolved) until every hot model is live. */
  let hotLiveMs = Number.POSITIVE_INFINITY;
  const get = async (path: string) => {
    const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as any };
  };

  beforeAll(async () => {
    server = await startServer({
      port: 0,
      host: "127.0.0.1",
      dataDir: tempDataDir(),
      inMemoryDatabase: true,
      logger: memoryLogger().logger,
      env: { SWITCHYARD_ADMIN_PASSWORD: ADMIN_PASSWORD },
    });
    const up = Date.now();
    const hot = server.ctx.config.models.filter((m) => m.placement === "hot");
    // Polled a little past the bound below, so a slow start fails that bound, not the hook's timeout.
    while (Date.now() - up < 35_000) {
      if (hot.every((m) => server.ctx.scheduler.availability(m.cluster, m.id).status === "live")) {
        hotLiveMs = Date.now() - up;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    token = await passwordToken(server.url);
  });
  afterAll(() => server?.close());

  it("has every hot model live within seconds of starting", async () => {
    // An order of magnitude, not a benchmark: a few seconds here, under 20 s even with the machine
    // oversubscribed tenfold, so 30 s means something broke (a lost load-time scale, say).
    expect(hotLiveMs, "ms from the server answering until every hot model is live").toBeLessThan(30_000);
    const hot = server.ctx.config.models.filter((m) => m.placement === "hot").map((m) => m.id);
    const list = ModelListSchema.parse((await get("/v1/models")).body);
    expect(list.data.filter((m) => hot.includes(m.id)).map((m) => [m.id, m.status])).toEqual(
      hot.map((id) => [id, "live"]),
    );
  });

  it("brings an offline model live on request and shows it on its node in the jobs view", async () => {
    const model = "Qwen/Qwen2.5-7B-Instruct";
    const before = await get(`/v1/models/${model}`);
    expect(before.body.status).toBe("offline");
    const availability = await server.ctx.scheduler.ensureLive("sophia", model);
    expect(["queued", "starting"]).toContain(availability.status);
    const starting = await get(`/v1/models/${model}`);
    expect(["queued", "starting", "live"]).toContain(starting.body.status);
    for (let i = 0; i < 100 && (await get(`/v1/models/${model}`)).body.status !== "live"; i++)
      await new Promise((r) => setTimeout(r, 100));
    expect((await get(`/v1/models/${model}`)).body.status).toBe("live");

    const jobs = await get("/resource_server/sophia/jobs");
    expect(jobs.status).toBe(200);
    const entry = jobs.body.running.find((j: any) => j.models.includes(model));
    expect(entry).toMatchObject({
      state: "live",
      model_status: "live",
      launcher: "local",
      node: expect.stringMatching(/^sophia-gpu-0[678]$/),
    });
    expect(entry.host).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(jobs.body.running.length).toBe(11);
    expect(jobs.body.queued).toEqual([]);
    const node = jobs.body.nodes.find((n: any) => n.name === entry.node);
    expect(node.gpus_free).toBe(7);
    expect(jobs.body.free_nodes.length).toBe(2);
  });

  it("lists every cluster, framework, model and endpoint path", async () => {
    const { body } = await get("/resource_server/list-endpoints");
    expect(body.clusters.sophia).toMatchObject({ base_url: "/resource_server/sophia", status: "active" });
    expect(body.clusters.sophia.frameworks.vllm.endpoint_urls.chat).toBe(
      "/resource_server/sophia/vllm/v1/chat/completions",
    );
    expect(body.clusters.sophia.frameworks.infinity.endpoint_urls.embedding).toBe(
      "/resource_server/sophia/infinity/v1/embeddings",
    );
    // The reference gateway's shape: paths under the framework's base, and models sorted by code point.
    expect(body.clusters.sophia.frameworks.vllm.endpoints).toContain("/v1/chat/completions");
    expect(body.clusters.sophia.frameworks.infinity.endpoints).toContain("/v1/embeddings");
    const vllm: string[] = body.clusters.sophia.frameworks.vllm.models;
    expect(vllm).toEqual([...vllm].sort());
    expect(body.clusters.sophia.frameworks.infinity.models).toHaveLength(3);
    expect(body.clusters.metis).toMatchObject({
      status: "coming_soon",
      status_reason: "cluster metis is not available yet",
    });
  });

  it("lists one cluster's framework models, and 404s unknown clusters and frameworks", async () => {
    const list = await get("/resource_server/sophia/infinity/v1/models");
    expect(list.body.data.map((m: any) => m.id)).toEqual([
      "mistralai/Mistral-7B-Instruct-v0.3-embed",
      "Salesforce/SFR-Embedding-Mistral",
      "nvidia/NV-Embed-v2",
    ]);
    const cluster = await get("/resource_server/nowhere/jobs");
    expect(cluster.status).toBe(404);
    expect(ErrorBodySchema.parse(cluster.body).error).toMatchObject({ code: "cluster_not_found" });
    expect(cluster.body.error.message).toMatch(/Known clusters: sophia, metis, cerebras, gh200/);
    const framework = await get("/resource_server/sophia/tgi/v1/models");
    expect(framework.body.error).toMatchObject({
      code: "framework_not_found",
      message: expect.stringMatching(/Its frameworks: vllm, infinity/),
    });
  });

  it("exports deployments by state as metrics", async () => {
    const text = await scrapeMetrics(server.url);
    expect(text).toMatch(/switchyard_deployments\{cluster="sophia",state="live"\} 1[01]/);
  });

  it("exports the GPUs used and free per cluster as the jobs view counts them", async () => {
    const jobs = (await get("/resource_server/sophia/jobs")).body;
    const text = await scrapeMetrics(server.url);
    const gpus = (state: string) =>
      Number(new RegExp(`switchyard_gpus\\{cluster="sophia",state="${state}"\\} (\\d+)`).exec(text)?.[1]);
    const total = jobs.nodes.reduce((sum: number, n: { gpus: number }) => sum + n.gpus, 0);
    const free = jobs.nodes.reduce((sum: number, n: { gpus_free: number }) => sum + n.gpus_free, 0);
    expect(gpus("used")).toBeGreaterThan(0);
    expect(gpus("used")).toBe(total - free);
    expect(gpus("free")).toBe(free);
  });
});
