import type { DeploymentEventView } from "@switchyard/core";
import { testDrivers } from "@switchyard/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError, type Harness, startHarness, until } from "./harness";

const drivers = await testDrivers();

/** Clusters, nodes, models, deployments, jobs and the event feed, with the scheduler running real simulators. */
describe.each(drivers)("operating the cluster through the control plane on %s", (driver) => {
  let h: Harness;
  let admin: Awaited<ReturnType<Harness["as"]>>;
  let user: Awaited<ReturnType<Harness["as"]>>;
  let member: Awaited<ReturnType<Harness["as"]>>;
  const status = async (model: string) =>
    (await admin.models.list({ cluster: "lab" })).find((m) => m.id === model)?.status;

  beforeAll(async () => {
    h = await startHarness(driver, { scheduler: true });
    admin = await h.as(h.tokens.admin);
    user = await h.as(h.tokens.user);
    member = await h.as(h.tokens.member);
    await until(async () => (await status("org/hot")) === "live", "the hot model to be live");
  });
  afterAll(() => h?.close());

  it("lists clusters with their effective status and GPU use", async () => {
    const clusters = await user.clusters.list();
    expect(clusters.map((c) => c.name)).toEqual(["lab", "future"]);
    expect(clusters[0]).toMatchObject({
      name: "lab",
      displayName: "Lab",
      status: "active",
      reason: null,
      launcher: "local",
      nodes: 2,
      gpus: 6,
      gpusUsed: 1,
      models: 3,
      liveModels: 1,
    });
    expect(clusters[1]).toMatchObject({ status: "coming_soon", reason: "cluster future is not available yet" });
  });

  it("shows each node's GPUs and which deployment sits where", async () => {
    const nodes = await user.nodes.list({ cluster: "lab" });
    expect(nodes.map((n) => [n.name, n.role, n.gpus, n.gpusUsed, n.gpusFree])).toEqual([
      ["hot-1", "hot", 2, 1, 1],
      ["rot-1", "rotating", 4, 0, 4],
    ]);
    expect(nodes[0]!.deployments).toEqual([
      { deploymentId: expect.stringMatching(/^dep_/), model: "org/hot", state: "live", gpus: 1 },
    ]);
    await expectError(user.nodes.list({ cluster: "nowhere" }), "NOT_FOUND", {
      switchyard: "cluster_not_found",
      message: /Known clusters: lab, future/,
    });
  });

  it("lists models with capabilities as marks, status, pin and node; non-admins see only what their groups allow", async () => {
    const all = await admin.models.list();
    expect(all.map((m) => m.id)).toEqual(["org/hot", "org/dyn", "org/secret"]);
    expect(all[0]).toMatchObject({
      id: "org/hot",
      marks: "BT",
      capabilities: ["chat", "completions", "batch", "tools"],
      placement: "hot",
      engine: "simulator",
      status: "live",
      node: "hot-1",
      pinned: false,
      family: "Org",
    });
    expect(all[1]).toMatchObject({ id: "org/dyn", marks: "R", status: "offline", node: null, aliases: ["dyn"] });
    expect((await user.models.list()).map((m) => m.id)).toEqual(["org/hot", "org/dyn"]);
    expect((await member.models.list()).map((m) => m.id)).toEqual(["org/hot", "org/dyn", "org/secret"]);
    expect((await admin.models.list({ status: "live" })).map((m) => m.id)).toEqual(["org/hot"]);
    expect((await admin.models.list({ status: "offline" })).map((m) => m.id)).toEqual(["org/dyn", "org/secret"]);
    await expectError(admin.models.list({ status: "sleeping" as never }), "BAD_REQUEST", {
      switchyard: "invalid_field",
      message: /Invalid value for 'status': expected one of "live", "starting", "queued", "offline", "all"/,
    });
  });

  it("starts a dynamic model, streams its transitions, and records the operator's action", async () => {
    const feed = await admin.events.deployments();
    const events: DeploymentEventView[] = [];
    const reading = (async () => {
      for await (const event of feed) {
        events.push(event);
        if (event.model === "org/dyn" && event.to === "live") break;
      }
    })();
    const started = await admin.deployments.start({ cluster: "lab", model: "dyn" });
    expect(started).toMatchObject({ cluster: "lab", model: "org/dyn", deploymentId: expect.stringMatching(/^dep_/) });
    expect(["queued", "starting", "live"]).toContain(started.status);
    await reading;
    expect(events.filter((e) => e.model === "org/dyn").map((e) => e.to)).toEqual(["queued", "starting", "live"]);
    expect(await status("org/dyn")).toBe("live");

    const history = await user.models.history({ cluster: "lab", model: "org/dyn" });
    expect(history.map((t) => `${t.from}->${t.to}`)).toEqual(["starting->live", "queued->starting", "offline->queued"]);
    const { entries } = await admin.audit.list({ action: "deployments.start" });
    expect(entries[0]).toMatchObject({
      actor: { username: "root", via: "access_token" },
      action: "deployments.start",
      target: { type: "model", id: "lab/org/dyn" },
    });
  });

  it("gives non-admins the events of models they may use only", async () => {
    const feed = await user.events.deployments();
    const seen: string[] = [];
    const reading = (async () => {
      for await (const event of feed) {
        seen.push(`${event.model}:${event.to}`);
        if (event.model === "org/hot" && event.to === "live") break;
      }
    })();
    await admin.deployments.start({ cluster: "lab", model: "org/secret" });
    await until(async () => (await status("org/secret")) === "live", "org/secret live");
    await admin.deployments.restart({ cluster: "lab", model: "org/hot" });
    await reading;
    expect(seen.some((s) => s.startsWith("org/secret"))).toBe(false);
    expect(seen).toContain("org/hot:draining");
  });

  it("pins and unpins, drains a deployment, stops a model, and shows it in the jobs view", async () => {
    expect(await admin.deployments.pin({ cluster: "lab", model: "org/dyn" })).toEqual({
      cluster: "lab",
      model: "org/dyn",
      pinned: true,
    });
    expect((await admin.models.list()).find((m) => m.id === "org/dyn")?.pinned).toBe(true);
    await admin.deployments.unpin({ cluster: "lab", model: "org/dyn" });
    expect((await admin.models.list()).find((m) => m.id === "org/dyn")?.pinned).toBe(false);

    const jobs = await user.jobs.list({ cluster: "lab" });
    // ada is not in physics: org/secret's job shows, without its name.
    expect(jobs.running.map((j) => j.models[0] ?? "(not theirs)").sort()).toEqual([
      "(not theirs)",
      "org/dyn",
      "org/hot",
    ]);
    const all = await admin.jobs.list({ cluster: "lab" });
    expect(all.running.map((j) => j.models[0]).sort()).toEqual(["org/dyn", "org/hot", "org/secret"]);

    const deployments = await admin.deployments.list({ cluster: "lab", state: "live" });
    const secret = deployments.find((d) => d.model === "org/secret")!;
    expect(secret).toMatchObject({
      node: "rot-1",
      launcher: "local",
      gpus: 2,
      address: expect.stringMatching(/:\d+$/),
    });
    const drained = await admin.deployments.drain({ deploymentId: secret.id });
    expect(["draining", "offline"]).toContain(drained.state);
    await until(async () => (await status("org/secret")) === "offline", "org/secret drained");

    const stop = await admin.deployments.stop({ cluster: "lab", model: "org/dyn" });
    expect(stop.stopped).toBe(true);
    await until(async () => (await status("org/dyn")) === "offline", "org/dyn stopped");
    expect((await admin.deployments.stop({ cluster: "lab", model: "org/dyn" })).stopped).toBe(false);

    const actions = (await admin.audit.list({ action: "deployments." })).entries.map((e) => e.action);
    expect(actions).toEqual(
      expect.arrayContaining(["deployments.pin", "deployments.unpin", "deployments.drain", "deployments.stop"]),
    );
  });

  it("puts a cluster in maintenance: models read offline with the reason, starts are refused with 503", async () => {
    const summary = await admin.clusters.setMaintenance({ cluster: "lab", maintenance: true, reason: "new PDUs" });
    expect(summary).toMatchObject({
      status: "maintenance",
      reason: "cluster lab is in maintenance: new PDUs",
      maintenanceSince: expect.any(String),
    });
    const during = (await user.models.list()).map(({ id, status, reason }) => ({ id, status, reason }));
    expect(during).toEqual(
      ["org/hot", "org/dyn"].map((id) => ({
        id,
        status: "offline",
        reason: "cluster lab is in maintenance: new PDUs",
      })),
    );
    await expectError(admin.deployments.start({ cluster: "lab", model: "org/dyn" }), "SERVICE_UNAVAILABLE", {
      switchyard: "cluster_unavailable",
    });
    const reopened = await admin.clusters.setMaintenance({ cluster: "lab", maintenance: false });
    expect(reopened).toMatchObject({ status: "active", reason: null, maintenanceSince: null });
    const audit = await admin.audit.list({ action: "clusters.setMaintenance" });
    expect(audit.entries.map((e) => e.details)).toEqual([
      { maintenance: false },
      { maintenance: true, reason: "new PDUs" },
    ]);
  });

  it("answers bad input with 400 naming the field, and unknown things with 404", async () => {
    await expectError(admin.deployments.start({ cluster: "lab", model: "acme/none" }), "NOT_FOUND", {
      switchyard: "model_not_found",
    });
    await expectError(admin.deployments.start({ cluster: "future", model: "org/dyn" }), "NOT_FOUND", {
      switchyard: "model_not_on_cluster",
    });
    await expectError(admin.deployments.drain({ deploymentId: "dep_0000" }), "NOT_FOUND", {
      switchyard: "resource_not_found",
    });
    await expectError(admin.deployments.drain({ deploymentId: "42" }), "BAD_REQUEST", {
      message: /Invalid value for 'deploymentId': a deployment id looks like dep_0123abcd/,
    });
    await expectError(admin.deployments.pin({ cluster: "lab" } as never), "BAD_REQUEST", {
      switchyard: "missing_required_field",
      message: /Missing required field 'model'/,
    });
    await expectError(
      admin.clusters.setMaintenance({ cluster: "lab", maintenance: true, extra: 1 } as never),
      "BAD_REQUEST",
      {
        message: /Invalid value for 'extra': unknown field/,
      },
    );
    await expectError(user.models.history({ cluster: "lab", model: "org/secret" }), "FORBIDDEN", {
      switchyard: "model_access_denied",
    });
    await expectError(user.jobs.list({ cluster: "nowhere" }), "NOT_FOUND", { switchyard: "cluster_not_found" });
    await expectError(user.jobs.list({} as never), "BAD_REQUEST", { message: /Missing required field 'cluster'/ });
    await expectError(user.nodes.list({ cluster: 7 } as never), "BAD_REQUEST", {
      message: /Invalid value for 'cluster': expected a string, got an integer/,
    });
    await expectError(admin.deployments.list({ state: "asleep" } as never), "BAD_REQUEST", { message: /'state'/ });
  });
});
