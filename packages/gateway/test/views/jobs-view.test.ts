import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, serverPid, startViewsHarness, until, type ViewsHarness } from "./harness";

/**
 * The jobs view names every replica's node; its address (host and port) is for admins only,
 * and a cluster restricted to a group shows nothing to anyone outside it, whichever door
 * (REST here, tRPC in the api package) they use.
 */
describe("GET /resource_server/{cluster}/jobs on a cluster restricted to a group", () => {
  let views: ViewsHarness;
  let h: Harness;
  const credentials: Record<"admin" | "member" | "outsider" | "adminInferenceKey", string> = {
    admin: "",
    member: "",
    outsider: "",
    adminInferenceKey: "",
  };
  const sim = { type: "simulator" as const, loadTime: "300ms", profile: "fast" as const };
  const jobs = async (credential: string) => {
    const { status, text } = await views.get("/resource_server/lab/jobs", credential);
    return { status, text };
  };
  const address = () => {
    const id = h.scheduler.availability("lab", "org/hot").deploymentId;
    const record = h.scheduler.deployments().find((d) => d.id === id)!;
    return { host: record.host!, port: record.port! };
  };

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
            allowedGroups: ["physics"],
          },
        ],
        models: [
          { id: "org/hot", cluster: "lab", framework: "vllm", capabilities: ["chat"], placement: "hot", engine: sim },
          {
            id: "org/dyn",
            cluster: "lab",
            framework: "vllm",
            capabilities: ["chat"],
            placement: "dynamic",
            engine: sim,
          },
          // A model of one project inside the cluster: its name is that project's business.
          {
            id: "org/private-model",
            cluster: "lab",
            framework: "vllm",
            capabilities: ["chat"],
            placement: "hot",
            allowedGroups: ["physics-secret"],
            engine: sim,
          },
        ],
      },
      async (started) => {
        await started.scheduler.ensureLive("lab", "org/dyn");
        await until(
          started,
          () =>
            ["org/hot", "org/dyn", "org/private-model"].every(
              (m) => started.scheduler.availability("lab", m).status === "live",
            ),
          "all models live",
        );
      },
    );
    h = views.h;
    // In the cluster's group too, so that a key without the admin scope (a user's key) still gets in.
    const admin = await views.user("root", "admin", ["physics"]);
    credentials.admin = admin.token;
    credentials.member = (await views.user("grace", "user", ["physics"])).token;
    credentials.outsider = (await views.user("ada", "user")).token;
    credentials.adminInferenceKey = await admin.key(["inference"]);
  });
  afterAll(() => views?.close());

  it("a user outside the cluster's groups gets 403 from /resource_server/{cluster}/jobs", async () => {
    const res = await jobs(credentials.outsider);
    expect(res.status).toBe(403);
    expect(JSON.parse(res.text)).toMatchObject({ error: { code: "cluster_access_denied" } });
    expect(res.text).not.toContain("org/hot");
    expect(res.text).not.toContain(address().host);
  });

  it("a non-admin's jobs view shows no host or port", async () => {
    const res = await jobs(credentials.member);
    expect(res.status).toBe(200);
    const view = JSON.parse(res.text) as { running: { models: string[]; node: string; host: string | null }[] };
    expect(view.running.map((j) => [j.models[0] ?? "(not theirs)", j.node, j.host]).sort()).toEqual([
      ["(not theirs)", "hot-1", null],
      ["org/dyn", "rot-1", null],
      ["org/hot", "hot-1", null],
    ]);
    const { host, port } = address();
    expect(res.text).not.toContain(host);
    expect(res.text).not.toContain(`:${port}`);
  });

  it("an admin's API key without the admin scope shows no host or port either", async () => {
    const res = await jobs(credentials.adminInferenceKey);
    expect(res.status).toBe(200);
    expect(res.text).not.toContain(address().host);
  });

  it("an admin sees where each replica listens", async () => {
    const res = await jobs(credentials.admin);
    const view = JSON.parse(res.text) as { running: { models: string[]; host: string | null }[] };
    const { host, port } = address();
    expect(view.running.find((j) => j.models[0] === "org/hot")?.host).toBe(`${host}:${port}`);
  });

  it("a restricted model's name is not shown to a cluster member outside its groups; its GPUs are", async () => {
    const member = await jobs(credentials.member);
    expect(member.status).toBe(200);
    expect(member.text).not.toContain("private-model");
    const view = JSON.parse(member.text) as {
      running: { models: string[]; node: string; gpus: number }[];
      nodes: { name: string; gpus_free: number; deployments: { model: string | null }[] }[];
    };
    expect(view.running.map((j) => j.models)).toEqual(expect.arrayContaining([["org/hot"], []]));
    const hot = view.nodes.find((n) => n.name === "hot-1")!;
    expect(hot.gpus_free).toBe(0);
    expect(hot.deployments.map((d) => d.model ?? "(not theirs)").sort()).toEqual(["(not theirs)", "org/hot"]);
    expect((await jobs(credentials.admin)).text).toContain("org/private-model");
  });

  it("a failed server's reason shows users its last log lines but not where it listened", async () => {
    const id = h.scheduler.availability("lab", "org/dyn").deploymentId!;
    const { host, port } = (() => {
      const record = h.scheduler.deployments().find((d) => d.id === id)!;
      return { host: record.host!, port: record.port! };
    })();
    process.kill(serverPid(id)!, "SIGKILL");
    await until(h, () => h.scheduler.deployments().find((d) => d.id === id)?.state === "failed", "org/dyn failed");
    const reason = h.scheduler.availability("lab", "org/dyn").reason ?? "";
    expect(reason).toMatch(/last log lines:[\s\S]*simulator/);
    expect(reason).not.toContain(host);
    expect(reason).not.toContain(`:${port}`);
    const res = await jobs(credentials.member);
    expect(res.text).toContain("last log lines");
    expect(res.text).not.toContain(`:${port}`);
  });
});
