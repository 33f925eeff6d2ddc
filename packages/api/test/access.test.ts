import { testDrivers } from "@switchyard/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appRouter } from "../src";
import { expectError, type Harness, startHarness } from "./harness";

const drivers = await testDrivers();

/** Every procedure with its kind, straight from the router, so a new one is covered the day it lands. */
const procedures = Object.entries(
  appRouter._def.procedures as unknown as Record<string, { _def: { type: string } }>,
).map(([path, procedure]) => ({ path, type: procedure._def.type }));
const PUBLIC = new Set(["session.signInOptions"]);
const USER = new Set([
  "session.me",
  "device.lookup",
  "device.decide",
  "clusters.list",
  "nodes.list",
  "models.list",
  "models.history",
  "jobs.list",
  "keys.list",
  "keys.create",
  "keys.revoke",
  "keys.defaults",
  "usage.timeseries",
  "usage.latency",
  "usage.live",
  "usage.breakdown",
  "usage.requests",
  "batches.list",
  "batches.get",
  "batches.cancel",
  "events.deployments",
]);
const ADMIN = new Set([
  "clusters.setMaintenance",
  "deployments.list",
  "deployments.start",
  "deployments.stop",
  "deployments.restart",
  "deployments.pin",
  "deployments.unpin",
  "deployments.drain",
  "users.list",
  "users.create",
  "users.setRole",
  "users.setGroups",
  "groups.list",
  "groups.addMember",
  "groups.removeMember",
  "usage.topUsers",
  "projects.list",
  "projects.create",
  "projects.update",
  "projects.addMember",
  "projects.removeMember",
  "audit.list",
]);
const KEYS_SCOPE = new Set(["keys.list", "keys.create", "keys.revoke", "keys.defaults"]);
const BATCH_SCOPE = new Set(["batches.list", "batches.get", "batches.cancel"]);

type Caller = Awaited<ReturnType<Harness["as"]>>;
function call(caller: Caller, path: string, input: unknown): Promise<unknown> {
  let target: unknown = caller;
  for (const part of path.split(".")) target = (target as Record<string, unknown>)[part];
  return (target as (input: unknown) => Promise<unknown>)(input);
}

describe.each(drivers)("who may call which procedure, on %s", (driver) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(driver);
  });
  afterAll(() => h?.close());

  it("knows every procedure's access level: each procedure in exactly one list, every listed name a procedure", () => {
    const real = new Set(procedures.map((p) => p.path));
    for (const [list, names] of Object.entries({ PUBLIC, USER, ADMIN, KEYS_SCOPE, BATCH_SCOPE })) {
      expect(
        [...names].filter((name) => !real.has(name)),
        `names in ${list} that are not procedures`,
      ).toEqual([]);
    }
    const unplaced = procedures
      .map(({ path }) => ({ path, lists: [PUBLIC, USER, ADMIN].filter((list) => list.has(path)).length }))
      .filter(({ lists }) => lists !== 1);
    expect(unplaced, "procedures in no list or in more than one").toEqual([]);
    // Scoped procedures are user procedures (an admin's key needs the admin scope instead).
    expect([...KEYS_SCOPE, ...BATCH_SCOPE].filter((name) => !USER.has(name))).toEqual([]);
  });

  it("answers 401 without credentials or with bad ones, except the public sign-in options", async () => {
    const anonymous = await h.as();
    const forged = await h.as("not.a.token");
    for (const { path } of procedures) {
      if (PUBLIC.has(path)) {
        await expect(call(anonymous, path, undefined), path).resolves.toBeDefined();
        continue;
      }
      await expectError(call(anonymous, path, undefined), "UNAUTHORIZED", { switchyard: "missing_credentials" });
      await expectError(call(forged, path, undefined), "UNAUTHORIZED", { switchyard: "invalid_token" });
    }
  });

  it("answers 403 admin_required to a non-admin on every admin procedure, whatever the input", async () => {
    const user = await h.as(h.tokens.user);
    for (const { path } of procedures) {
      if (!ADMIN.has(path)) continue;
      await expectError(call(user, path, { nonsense: true }), "FORBIDDEN", { switchyard: "admin_required" });
    }
  });

  it("needs the keys scope for key procedures, the batch scope for batch ones, and the admin scope for an admin's key", async () => {
    const inferenceOnly = await h.as(await h.key("ada", ["inference"]));
    for (const path of [...KEYS_SCOPE, ...BATCH_SCOPE]) {
      await expectError(call(inferenceOnly, path, undefined), "FORBIDDEN", { switchyard: "insufficient_scope" });
    }
    const adminWithoutScope = await h.as(await h.key("root", ["inference", "keys"]));
    await expectError(adminWithoutScope.users.list(), "FORBIDDEN", { switchyard: "insufficient_scope" });
    const adminKey = await h.as(await h.key("root", ["admin"]));
    expect((await adminKey.users.list()).map((u) => u.username)).toContain("root");
  });

  it("answers 401 to a key revoked a moment ago, saying so", async () => {
    const key = await h.key("ada", ["inference", "keys"]);
    const asKey = await h.as(key);
    const own = (await asKey.keys.list()).find((k) => key.startsWith(k.prefix) && k.revokedAt === null);
    await asKey.keys.revoke({ id: own!.id });
    await expectError((await h.as(key)).models.list(), "UNAUTHORIZED", {
      switchyard: "invalid_api_key",
      message: /was revoked/,
    });
  });
});
