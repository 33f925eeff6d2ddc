import { testDrivers } from "@switchyard/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KEY_NEW_ADDRESS_ACTION, LastUsedTracker } from "../src";
import { addUser, call, type Harness, PASSWORD, passwordGrant, post, startHarness } from "./harness";

const drivers = await testDrivers();
const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

/** Sign-ins, device approvals and a key's use from a new address, as the audit log holds them. */
describe.each(drivers)("the audit trail of signing in on %s", (driver) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(driver);
    await addUser(h, "ada");
  });
  afterAll(() => h.close());

  const rows = (action: string) => h.db.prisma.auditLog.findMany({ where: { action }, orderBy: { id: "asc" } });

  it("records a password sign-in with its client and address, and not a failed one", async () => {
    expect((await passwordGrant(h, "ada", "wrong password")).status).toBe(400);
    expect(await rows("auth.signIn")).toEqual([]);
    expect((await passwordGrant(h, "ada")).status).toBe(200);
    const [row, ...more] = await rows("auth.signIn");
    expect(more).toEqual([]);
    expect(row).toMatchObject({
      actorUsername: "ada",
      via: "password",
      targetType: "user",
      targetId: "ada",
      details: { method: "password", client: "sy-cli", address: expect.stringMatching(/127\.0\.0\.1/) },
    });
  });

  it("records a device approval on the /device page and the device's sign-in", async () => {
    const start = await post(`${h.url}/auth/device/code`, { client_id: "sy-cli" });
    const code = String(start.body.user_code);
    const page = await fetch(`${h.url}/device`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ user_code: code, username: "ada", password: PASSWORD, action: "approve" }),
    });
    expect(page.status).toBe(200);
    expect(await rows("device.approve")).toMatchObject([
      { actorUsername: "ada", via: "password", targetType: "device_login", targetId: code },
    ]);
    h.clock.advance(6000);
    const tokens = await post(`${h.url}/auth/token`, {
      grant_type: DEVICE_GRANT,
      device_code: String(start.body.device_code),
      client_id: "sy-cli",
    });
    expect(tokens.status).toBe(200);
    expect((await rows("auth.signIn")).at(-1)).toMatchObject({
      actorUsername: "ada",
      via: "device",
      details: { method: "device", client: "sy-cli" },
    });
  });

  it("records a key's first use from each address once, without a write per request", async () => {
    const token = String((await passwordGrant(h, "ada")).body.access_token);
    const created = await call(h, "/v1/keys", token, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "roaming" }),
    });
    const key = String(created.body.key);
    const keyId = String(created.body.id);
    const ofKey = async () =>
      (await rows(KEY_NEW_ADDRESS_ACTION)).filter((r) => r.targetId === keyId).map((r) => r.details);

    for (let i = 0; i < 5; i++) expect((await call(h, "/v1/protected", key)).status).toBe(200);
    expect(await ofKey()).toEqual([]); // nothing written on the request path
    await h.auth.lastUsed.flush();
    const first = await ofKey();
    expect(first).toEqual([{ address: expect.stringMatching(/127\.0\.0\.1/) }]);
    const [row] = (await rows(KEY_NEW_ADDRESS_ACTION)).filter((r) => r.targetId === keyId);
    expect(row).toMatchObject({ actorUsername: "ada", via: "api_key", targetType: "api_key" });

    // The same address again: nothing new. Another address: one more row.
    await call(h, "/v1/protected", key);
    await h.auth.authenticate(`Bearer ${key}`, undefined, "203.0.113.7");
    await h.auth.authenticate(`Bearer ${key}`, undefined, "203.0.113.7");
    await h.auth.lastUsed.flush();
    expect(await ofKey()).toEqual([...first, { address: "203.0.113.7" }]);

    // A restarted process (a fresh tracker) does not record an address the log already holds.
    const restarted = new LastUsedTracker(h.db.prisma);
    restarted.usedFrom({ keyId, address: "203.0.113.7", userId: row!.actorId!, username: "ada" }, h.clock.now());
    restarted.usedFrom({ keyId, address: "198.51.100.1", userId: row!.actorId!, username: "ada" }, h.clock.now());
    await restarted.flush();
    expect(await ofKey()).toEqual([...first, { address: "203.0.113.7" }, { address: "198.51.100.1" }]);
  });
});
