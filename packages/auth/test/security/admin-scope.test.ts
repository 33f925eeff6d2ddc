import { testDrivers } from "@switchyard/db/testing";
import type { RouteScope } from "@switchyard/http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canUseModel, createApiKey } from "../../src";
import { addUser, call, type Harness, startHarness } from "../harness";

const drivers = await testDrivers();

/** The admin role is exercised only with the `admin` scope: an admin's narrower key is a user's key. */
describe.each(drivers)("an admin's narrowly scoped API keys on %s", (driver) => {
  let h: Harness;
  let rootId: string;
  let adaId: string;
  const key = async (userId: string, scopes: RouteScope[]) => createApiKey(h.db.prisma, { userId, scopes });
  beforeAll(async () => {
    h = await startHarness(driver);
    rootId = (await addUser(h, "root", { admin: true })).id;
    adaId = (await addUser(h, "ada")).id;
  });
  afterAll(() => h?.close());

  it("an admin's key scoped only `keys` cannot revoke another user's key: 404, and that key keeps working", async () => {
    const victim = await key(adaId, ["inference"]);
    const adminKeysOnly = await key(rootId, ["keys"]);
    const res = await call(h, `/v1/keys/${victim.view.id}`, adminKeysOnly.key, { method: "DELETE" });
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({ code: "resource_not_found" });
    expect((await call(h, "/v1/protected", victim.key)).status).toBe(200);
    // The same admin acting as one (a key with the `admin` scope) may.
    const adminKey = await key(rootId, ["keys", "admin"]);
    expect((await call(h, `/v1/keys/${victim.view.id}`, adminKey.key, { method: "DELETE" })).status).toBe(200);
  });

  it("an admin's key scoped only `inference` does not get past group policies", async () => {
    const cluster = { name: "lab", allowedGroups: [] };
    const restricted = { id: "org/secret", allowedGroups: ["physics"] };
    const inferenceOnly = await h.auth.authenticate(`Bearer ${(await key(rootId, ["inference"])).key}`);
    expect(canUseModel(inferenceOnly, cluster, restricted)).toBe(false);
    const asAdmin = await h.auth.authenticate(`Bearer ${(await key(rootId, ["inference", "admin"])).key}`);
    expect(canUseModel(asAdmin, cluster, restricted)).toBe(true);
  });

  it("an admin's key without the `admin` scope is refused on admin routes with insufficient_scope", async () => {
    const res = await call(h, "/admin/thing", (await key(rootId, ["inference", "keys"])).key);
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: "insufficient_scope" });
  });
});
