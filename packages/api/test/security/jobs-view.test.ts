import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness, until } from "../harness";

/** The tRPC jobs view is the REST one: where a model server listens is for admins only. */
describe("jobs.list through the control plane", () => {
  let h: Harness;
  let address: string;

  beforeAll(async () => {
    h = await startHarness("pglite", { scheduler: true });
    await until(() => h.deps.scheduler.availability("lab", "org/hot").status === "live", "org/hot live");
    const id = h.deps.scheduler.availability("lab", "org/hot").deploymentId;
    const record = h.deps.scheduler.deployments().find((d) => d.id === id)!;
    address = `${record.host}:${record.port}`;
  });
  afterAll(() => h?.close());

  it("a non-admin's jobs view shows no host or port", async () => {
    const view = await (await h.as(h.tokens.user)).jobs.list({ cluster: "lab" });
    expect(view.running.map((j) => [j.models[0], j.node, j.host])).toEqual([["org/hot", "hot-1", null]]);
    expect(JSON.stringify(view)).not.toContain(address);
  });

  it("an admin's key without the admin scope shows no host or port either", async () => {
    const view = await (await h.as(await h.key("root", ["inference"]))).jobs.list({ cluster: "lab" });
    expect(view.running[0]?.host).toBeNull();
  });

  it("an admin sees where each replica listens", async () => {
    const view = await (await h.as(h.tokens.admin)).jobs.list({ cluster: "lab" });
    expect(view.running[0]?.host).toBe(address);
  });
});
