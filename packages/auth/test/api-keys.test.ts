import { testDrivers } from "@switchyard/db/testing";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createApiKey } from "../src";
import { addUser, call, type Harness, PASSWORD, passwordGrant, post, startHarness } from "./harness";

const drivers = await testDrivers();

describe.each(drivers)("API keys on %s", (driver) => {
  let h: Harness;
  let token: string;
  beforeAll(async () => {
    h = await startHarness(driver);
    await addUser(h, "svc-owner", { groups: ["physics"] });
    token = String((await passwordGrant(h, "svc-owner")).body.access_token);
  });
  afterAll(() => h.close());

  const createKey = (body: Record<string, unknown>, bearer = token) =>
    call(h, "/v1/keys", bearer, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  it("creates a key shown once, usable as a bearer or x-api-key, listed without its secret", async () => {
    const created = await createKey({ name: "pipeline" });
    expect(created.status).toBe(201);
    const key = String(created.body.key);
    expect(key).toMatch(/^sy_[A-Za-z0-9_-]{43}$/); // 256 random bits
    expect(created.body).toMatchObject({
      object: "api_key",
      name: "pipeline",
      scopes: ["inference", "batch"],
    });
    // No expiry named: the configured default (auth.apiKeyDefaultExpiryDays, 90).
    expect(Date.parse(created.body.expires_at)).toBe(h.clock.now() + 90 * 86_400_000);
    expect(created.headers.get("cache-control")).toBe("no-store");

    const me = await call(h, "/v1/me", key);
    expect(me.body).toMatchObject({
      username: "svc-owner",
      authenticated_via: "api_key",
      api_key_id: created.body.id,
      groups: ["physics"],
    });
    const viaHeader = await call(h, "/v1/protected", undefined, { headers: { "x-api-key": key } });
    expect(viaHeader.status).toBe(200);

    const listed = await call(h, "/v1/keys", token);
    const entry = listed.body.data.find((k: { id: string }) => k.id === created.body.id);
    expect(entry).toMatchObject({ prefix: key.slice(0, 8), name: "pipeline" });
    expect(JSON.stringify(listed.body)).not.toContain(key);
    const stored = await h.db.prisma.apiKey.findUniqueOrThrow({ where: { id: String(created.body.id) } });
    expect(stored.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(stored)).not.toContain(key.slice(3));
  });

  it("stops working everywhere within the cache TTL once revoked", async () => {
    const created = await createKey({ name: "short-lived" });
    const key = String(created.body.key);
    expect((await call(h, "/v1/protected", key)).status).toBe(200);
    const revoked = await call(h, `/v1/keys/${created.body.id}`, token, { method: "DELETE" });
    expect(revoked.body.revoked_at).not.toBeNull();
    // This instance forgets at once; others within principalCacheTtl (5 s).
    const after = await call(h, "/v1/protected", key);
    expect(after.status).toBe(401);
    expect(after.body.error).toMatchObject({ code: "invalid_api_key" });
    expect(after.body.error.message).toMatch(/revoked/);
  });

  it("a revocation made elsewhere (another instance, the CLI) applies after the cache TTL", async () => {
    const { key, view } = await createApiKey(h.db.prisma, {
      userId: (await h.db.prisma.user.findUniqueOrThrow({ where: { username: "svc-owner" } })).id,
    });
    expect((await call(h, "/v1/protected", key)).status).toBe(200);
    await h.db.prisma.apiKey.update({ where: { id: view.id }, data: { revokedAt: new Date() } });
    expect((await call(h, "/v1/protected", key)).status).toBe(200); // still cached
    h.clock.advance(5_001);
    expect((await call(h, "/v1/protected", key)).status).toBe(401);
  });

  it("checks a busy key again before its cache entry ends, while the entry answers", async () => {
    const { key, view } = await createApiKey(h.db.prisma, {
      userId: (await h.db.prisma.user.findUniqueOrThrow({ where: { username: "svc-owner" } })).id,
    });
    await h.auth.authenticate(`Bearer ${key}`);
    const lookups = vi.spyOn(h.db.prisma.apiKey, "findUnique");
    try {
      // In the last fifth of the 5 s entry: answered from the cache, checked again behind it.
      h.clock.advance(4_100);
      await h.auth.authenticate(`Bearer ${key}`);
      await vi.waitFor(() => expect(lookups).toHaveBeenCalledTimes(1));
      // That check renewed the entry: past the old one's end, no request waits for a lookup.
      h.clock.advance(1_000);
      await h.auth.authenticate(`Bearer ${key}`);
      expect(lookups).toHaveBeenCalledTimes(1);
      // A check that finds the key revoked ends the entry at once, not at its TTL.
      await h.db.prisma.apiKey.update({ where: { id: view.id }, data: { revokedAt: new Date() } });
      h.clock.advance(4_100);
      await h.auth.authenticate(`Bearer ${key}`);
      await vi.waitFor(() => expect(lookups).toHaveBeenCalledTimes(2));
      await vi.waitFor(() =>
        expect(h.auth.authenticate(`Bearer ${key}`)).rejects.toMatchObject({ code: "invalid_api_key" }),
      );
    } finally {
      lookups.mockRestore();
    }
  });

  it("looks a busy key up once when its cache entry expires, however many requests carry it", async () => {
    const { key } = await createApiKey(h.db.prisma, {
      userId: (await h.db.prisma.user.findUniqueOrThrow({ where: { username: "svc-owner" } })).id,
    });
    const lookups = vi.spyOn(h.db.prisma.apiKey, "findUnique");
    try {
      const first = await Promise.all(Array.from({ length: 50 }, () => h.auth.authenticate(`Bearer ${key}`)));
      expect(lookups).toHaveBeenCalledTimes(1);
      h.clock.advance(5_001);
      const again = await Promise.all(Array.from({ length: 50 }, () => h.auth.authenticate(`Bearer ${key}`)));
      expect(lookups).toHaveBeenCalledTimes(2);
      expect(new Set([...first, ...again].map((p) => p.userId)).size).toBe(1);

      // A refused credential is shared the same way, and not cached: the next try looks again.
      lookups.mockClear();
      const bad = await Promise.allSettled(Array.from({ length: 5 }, () => h.auth.authenticate("Bearer sy_nonsense")));
      expect(bad.map((r) => r.status)).toEqual(Array(5).fill("rejected"));
      expect(lookups).toHaveBeenCalledTimes(1);
      await expect(h.auth.authenticate("Bearer sy_nonsense")).rejects.toMatchObject({ code: "invalid_api_key" });
      expect(lookups).toHaveBeenCalledTimes(2);
    } finally {
      lookups.mockRestore();
    }
  });

  it("expires keys with expires_days", async () => {
    const created = await createKey({ name: "week", expires_days: 7 });
    const key = String(created.body.key);
    expect((await call(h, "/v1/protected", key)).status).toBe(200);
    h.clock.advance(7 * 86_400_000 + 1000);
    const expired = await call(h, "/v1/protected", key);
    expect(expired.status).toBe(401);
    expect(expired.body.error.message).toMatch(/expired at/);
    token = String((await passwordGrant(h, "svc-owner")).body.access_token);
  });

  it("makes a key that never expires with expires_days 0", async () => {
    const created = await createKey({ name: "forever", expires_days: 0 });
    expect(created.status).toBe(201);
    expect(created.body.expires_at).toBeNull();
  });

  it("limits a key to its scopes and never lets a key grant more than its creator has", async () => {
    const batchOnly = String((await createKey({ scopes: ["batch"] })).body.key);
    expect((await call(h, "/v1/batch-thing", batchOnly, { method: "POST" })).status).toBe(200);
    const denied = await call(h, "/v1/protected", batchOnly);
    expect(denied.status).toBe(403);
    expect(denied.body.error).toMatchObject({ code: "insufficient_scope", type: "permission_error" });
    // A batch key cannot manage keys at all; a keys-scoped key cannot mint an inference key.
    expect((await createKey({ scopes: ["batch"] }, batchOnly)).status).toBe(403);
    const keysOnly = String((await createKey({ scopes: ["keys"] })).body.key);
    expect((await createKey({ scopes: ["inference"] }, keysOnly)).body.error).toMatchObject({
      code: "insufficient_scope",
    });
    // A non-admin cannot create an admin-scoped key.
    expect((await createKey({ scopes: ["admin"] })).status).toBe(403);
  });

  it("rejects bad key requests with OpenAI-shaped 400s", async () => {
    expect((await createKey({ expires_days: -1 })).body.error).toMatchObject({
      code: "invalid_field",
      param: "expires_days",
    });
    expect((await createKey({ scopes: ["everything"] })).body.error).toMatchObject({
      code: "invalid_field",
      param: "scopes",
    });
    expect((await createKey({ name: 5 })).body.error).toMatchObject({ param: "name" });
    const notJson = await call(h, "/v1/keys", token, { method: "POST", body: "{" });
    expect(notJson.body.error).toMatchObject({ code: "invalid_json" });
    const unknown = await call(h, "/v1/keys/key_nope", token, { method: "DELETE" });
    expect(unknown.status).toBe(404);
  });

  it("records last use without a database write per request", async () => {
    const created = await createKey({ name: "counted" });
    const key = String(created.body.key);
    for (let i = 0; i < 20; i++) await call(h, "/v1/protected", key);
    const before = await h.db.prisma.apiKey.findUniqueOrThrow({ where: { id: String(created.body.id) } });
    expect(before.lastUsedAt).toBeNull();
    await h.auth.lastUsed.flush();
    const after = await h.db.prisma.apiKey.findUniqueOrThrow({ where: { id: String(created.body.id) } });
    expect(after.lastUsedAt).not.toBeNull();
  });

  it("never writes a password, token or key into the logs: keys, password, refresh-token and device grants", async () => {
    h.logs.length = 0;
    const grant = await passwordGrant(h, "svc-owner");
    const key = String((await createKey({ name: "secret-check" })).body.key);
    expect((await call(h, "/v1/protected", key)).status).toBe(200);
    const forgedKey = "sy_definitely_not_valid_key_material_0000000000";
    expect((await call(h, "/v1/protected", forgedKey)).status).toBe(401);
    const refreshed = await post(`${h.url}/auth/token`, {
      grant_type: "refresh_token",
      refresh_token: String(grant.body.refresh_token),
    });
    expect(refreshed.status).toBe(200);
    expect((await passwordGrant(h, "svc-owner", "wrong-password-xyz")).body).toMatchObject({ error: "invalid_grant" });

    // The device flow: a poll before approval, the approval form (with the password), the tokens.
    const device = await post(`${h.url}/auth/device/code`, { client_id: "sy-cli" });
    const poll = () =>
      post(`${h.url}/auth/token`, {
        grant_type: "urn:ietf:params:oauth:grant-type:device_code",
        device_code: String(device.body.device_code),
        client_id: "sy-cli",
      });
    expect((await poll()).body).toMatchObject({ error: "authorization_pending" });
    const approved = await fetch(`${h.url}/device`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        user_code: String(device.body.user_code),
        username: "svc-owner",
        password: PASSWORD,
        action: "approve",
      }),
    });
    expect(approved.status).toBe(200);
    h.clock.advance(11_000);
    const deviceTokens = await poll();
    expect(deviceTokens.status).toBe(200);

    // Every request above wrote its line (an empty log would pass the check below for nothing).
    const requests = [
      "POST /auth/token 200",
      "POST /v1/keys 201",
      "GET /v1/protected 200",
      "GET /v1/protected 401",
      "POST /auth/token 200",
      "POST /auth/token 400",
      "POST /auth/device/code 200",
      "POST /auth/token 400",
      "POST /device 200",
      "POST /auth/token 200",
    ];
    const requestLines = () =>
      h.logs
        .map((line) => JSON.parse(line) as { msg: string; method: string; path: string; status: number })
        .filter((line) => line.msg === "request")
        .map((line) => `${line.method} ${line.path} ${line.status}`);
    await vi.waitFor(() => expect(requestLines().sort()).toEqual([...requests].sort()));
    expect(h.logs.join("\n")).toContain('"user":"svc-owner"');

    const logs = h.logs.join("\n");
    const secrets = {
      password: PASSWORD,
      "wrong password": "wrong-password-xyz",
      "API key": key,
      "forged API key": forgedKey,
      "access token": String(grant.body.access_token),
      "refresh token": String(grant.body.refresh_token),
      "rotated refresh token": String(refreshed.body.refresh_token),
      "refreshed access token": String(refreshed.body.access_token),
      "device code": String(device.body.device_code),
      "device access token": String(deviceTokens.body.access_token),
      "device refresh token": String(deviceTokens.body.refresh_token),
    };
    for (const [what, secret] of Object.entries(secrets)) expect(logs, what).not.toContain(secret);
  });
});
