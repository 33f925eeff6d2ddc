import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness, until } from "../harness";

/** The tRPC jobs view is the REST one: where a model server listens is for admins only. */
describe("jobs.list through the control plane", () => {
  let h: Harness;
  let address: string;

  beforeAll(async () => {
    h = await startHarness("pglite", { scheduler: true });
    await h.deps.scheduler.ensureLive("lab", "org/secret");
    await until(
      () => ["org/hot", "org/secret"].every((m) => h.deps.scheduler.availability("lab", m).status === "live"),
      "org/hot and org/secret live",
    );
    const id = h.deps.scheduler.availability("lab", "org/hot").deploymentId;
    const record = h.deps.scheduler.deployments().find((d) => d.id === id)!;
    address = `${record.host}:${record.port}`;
  });
  afterAll(() => h?.close());

  it("a non-admin's jobs view shows no host or port", async () => {
    const view = await (await h.as(h.tokens.user)).jobs.list({ cluster: "lab" });
    expect(view.running.find((j) => j.models[0] === "org/hot")?.host).toBeNull();
    expect(JSON.stringify(view)).not.toContain(address);
  });

  it("an admin's key without the admin scope shows no host or port either", async () => {
    const view = await (await h.as(await h.key("root", ["inference"]))).jobs.list({ cluster: "lab" });
    expect(view.running[0]?.host).toBeNull();
  });

  it("a model restricted to a group is not named in the jobs or nodes view of a user outside it", async () => {
    const outsider = await h.as(h.tokens.user);
    const views = JSON.stringify([
      await outsider.jobs.list({ cluster: "lab" }),
      await outsider.nodes.list({ cluster: "lab" }),
    ]);
    expect(views).not.toContain("org/secret");
    const nodes = await outsider.nodes.list({ cluster: "lab" });
    expect(nodes.flatMap((n) => n.deployments.map((d) => d.model))).toContain(null);
    const member = await h.as(h.tokens.member);
    expect(JSON.stringify(await member.nodes.list({ cluster: "lab" }))).toContain("org/secret");
  });

  it("an admin sees where each replica listens", async () => {
    const view = await (await h.as(h.tokens.admin)).jobs.list({ cluster: "lab" });
    expect(view.running[0]?.host).toBe(address);
  });
});
