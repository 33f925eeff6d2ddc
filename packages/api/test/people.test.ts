import type { AuthService } from "@switchyard/auth";
import { testDrivers } from "@switchyard/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError, type Harness, startHarness } from "./harness";

const drivers = await testDrivers();

/** Users, groups, API keys, device approval, the session and the audit trail they leave. */
describe.each(drivers)("people and credentials through the control plane on %s", (driver) => {
  let h: Harness;
  let admin: Awaited<ReturnType<Harness["as"]>>;
  let user: Awaited<ReturnType<Harness["as"]>>;

  beforeAll(async () => {
    h = await startHarness(driver);
    admin = await h.as(h.tokens.admin);
    user = await h.as(h.tokens.user);
  });
  afterAll(() => h?.close());

  it("says who is signed in, and offers password sign-in to anyone", async () => {
    expect(await user.session.me()).toMatchObject({
      username: "ada",
      role: "user",
      groups: [],
      via: "access_token",
      scopes: ["inference", "batch", "keys", "admin"],
      expiresAt: expect.any(String),
    });
    expect(await (await h.as()).session.signInOptions()).toEqual({ password: true, oidc: [] });
  });

  it("creates users (generating a password shown once), and refuses taken names and bad ones", async () => {
    const created = await admin.users.create({ username: "lin", groups: ["physics", "chem"] });
    expect(created.generatedPassword).toMatch(/^\S{16,}$/);
    expect(created.user).toMatchObject({ username: "lin", role: "user", groups: ["chem", "physics"], activeKeys: 0 });
    const login = await h.deps.auth.login("lin", created.generatedPassword!, "127.0.0.1");
    expect(login.ok).toBe(true);

    const chosen = await admin.users.create({ username: "mo", password: "a-long-password", role: "admin" });
    expect(chosen.generatedPassword).toBeNull();
    expect(chosen.user.role).toBe("admin");

    await expectError(admin.users.create({ username: "lin" }), "CONFLICT", {
      switchyard: "already_exists",
      message: /The user 'lin' already exists/,
    });
    await expectError(admin.users.create({ username: "-bad name" }), "BAD_REQUEST", {
      message: /Invalid value for 'username'/,
    });
    await expectError(admin.users.create({ username: "short", password: "123" }), "BAD_REQUEST", {
      message: /Invalid value for 'password': use at least 12 characters/,
    });
    const users = await admin.users.list();
    expect(users.map((u) => u.username)).toEqual(["ada", "grace", "lin", "mo", "root"]);
  });

  it("changes roles (never the last admin's) and the change applies to the next call", async () => {
    const lin = await h.deps.auth.issueTokens((await admin.users.list()).find((u) => u.username === "lin")!.id, {
      clientId: "test",
      scope: "",
      authTime: new Date(),
    });
    const asLin = await h.as(lin.access_token);
    await expectError(asLin.users.list(), "FORBIDDEN", { switchyard: "admin_required" });
    expect(await admin.users.setRole({ username: "lin", role: "admin" })).toMatchObject({ role: "admin" });
    expect((await (await h.as(lin.access_token)).users.list()).length).toBe(5);

    await admin.users.setRole({ username: "lin", role: "user" });
    await admin.users.setRole({ username: "mo", role: "user" });
    await expectError(admin.users.setRole({ username: "root", role: "user" }), "CONFLICT", {
      switchyard: "last_admin",
      message: /'root' is the last admin/,
    });
    await expectError(admin.users.setRole({ username: "nobody", role: "admin" }), "NOT_FOUND", {
      switchyard: "resource_not_found",
    });
    await expectError(admin.users.setRole({ username: "lin", role: "owner" as never }), "BAD_REQUEST", {
      message: /'role': expected one of "user", "admin"/,
    });
  });

  it("sets a user's groups, keeping those synced from an identity provider", async () => {
    const lin = await h.db.prisma.user.findUniqueOrThrow({ where: { username: "lin" } });
    const sso = await h.db.prisma.group.create({ data: { name: "sso-team" } });
    await h.db.prisma.groupMember.create({ data: { userId: lin.id, groupId: sso.id, source: "oidc" } });
    const updated = await admin.users.setGroups({ username: "lin", groups: ["physics", "bio"] });
    expect(updated.groups).toEqual(["bio", "physics", "sso-team"]);
    const audit = await admin.audit.list({ action: "users.setGroups" });
    expect(audit.entries[0]?.details).toEqual({ added: ["bio"], removed: ["chem"] });
    await expectError(admin.users.setGroups({ username: "lin", groups: ["bad group"] }), "BAD_REQUEST", {
      message: /Invalid value for 'groups\[0\]'/,
    });
  });

  it("lists groups with members, sources and what the config unlocks; adds and removes members", async () => {
    const groups = await admin.groups.list();
    const physics = groups.find((g) => g.name === "physics")!;
    expect(physics).toMatchObject({ models: ["org/secret"], clusters: [] });
    expect(physics.members.map((m) => m.username)).toEqual(["grace", "lin"]);
    expect(groups.find((g) => g.name === "sso-team")?.members).toEqual([{ username: "lin", source: "oidc" }]);

    const added = await admin.groups.addMember({ group: "physics", username: "ada" });
    expect(added.members.map((m) => m.username)).toEqual(["ada", "grace", "lin"]);
    // The policy applies to ada's next request: the restricted model is now in her list.
    const nextRequest = () => h.as(h.tokens.user);
    expect((await (await nextRequest()).models.list()).map((m) => m.id)).toContain("org/secret");
    const removed = await admin.groups.removeMember({ group: "physics", username: "ada" });
    expect(removed.members.map((m) => m.username)).toEqual(["grace", "lin"]);
    expect((await (await nextRequest()).models.list()).map((m) => m.id)).not.toContain("org/secret");

    await expectError(admin.groups.removeMember({ group: "physics", username: "ada" }), "NOT_FOUND");
    await expectError(admin.groups.addMember({ group: "physics", username: "ghost" }), "NOT_FOUND", {
      message: /There is no user 'ghost'/,
    });
    await expectError(admin.groups.addMember({ group: "no spaces", username: "ada" }), "BAD_REQUEST", {
      message: /Invalid value for 'group'/,
    });
    const actions = (await admin.audit.list({ action: "groups." })).entries.map((e) => e.action);
    expect(actions).toEqual(["groups.removeMember", "groups.addMember"]);
  });

  it("creates a key shown once, lists own keys (admins: all), and revokes own keys only", async () => {
    const made = await user.keys.create({ name: "pipeline", expiresDays: 30, scopes: ["inference"] });
    expect(made.key).toMatch(/^sy_/);
    expect(made.apiKey).toMatchObject({ name: "pipeline", user: "ada", scopes: ["inference"], revokedAt: null });
    expect(made.key.startsWith(made.apiKey.prefix)).toBe(true);
    expect(JSON.stringify(await user.keys.list())).not.toContain(made.key);
    expect((await (await h.as(made.key)).session.me()).via).toBe("api_key");

    const theirs = await admin.keys.create({ name: "ops" });
    // No expiry named: the default of auth.apiKeyDefaultExpiryDays (90), which the form shows.
    expect(await admin.keys.defaults()).toEqual({ expiryDays: 90 });
    const lasts = (Date.parse(String(theirs.apiKey.expiresAt)) - Date.parse(theirs.apiKey.createdAt)) / 86_400_000;
    expect(Math.round(lasts)).toBe(90);
    expect((await user.keys.list()).map((k) => k.name)).toEqual(["pipeline"]);
    await expectError(user.keys.list({ all: true }), "FORBIDDEN", { switchyard: "admin_required" });
    expect((await admin.keys.list({ all: true })).map((k) => k.name)).toEqual(["pipeline", "ops"]);
    await expectError(user.keys.revoke({ id: theirs.apiKey.id }), "NOT_FOUND", { switchyard: "resource_not_found" });
    await expectError(user.keys.create({ scopes: ["admin"] }), "FORBIDDEN", { switchyard: "insufficient_scope" });
    await expectError(user.keys.create({ expiresDays: -1 }), "BAD_REQUEST", { message: /'expiresDays'/ });

    const revoked = await user.keys.revoke({ id: made.apiKey.id });
    expect(revoked.revokedAt).not.toBeNull();
    await expectError((await h.as(made.key)).session.me(), "UNAUTHORIZED", { switchyard: "invalid_api_key" });
    expect((await user.keys.list({ includeRevoked: false })).length).toBe(0);
    await admin.keys.revoke({ id: made.apiKey.id }); // idempotent, and admins may revoke anyone's
    const audit = (await admin.audit.list({ action: "keys." })).entries;
    expect(audit.map((e) => [e.action, e.actor.username])).toEqual([
      ["keys.revoke", "root"],
      ["keys.revoke", "ada"],
      ["keys.create", "root"],
      ["keys.create", "ada"],
    ]);
    expect(JSON.stringify(audit)).not.toContain(made.key);
    // expiresDays 0: a key that never expires.
    const forever = await user.keys.create({ name: "forever", expiresDays: 0 });
    expect(forever.apiKey.expiresAt).toBeNull();
    await user.keys.revoke({ id: forever.apiKey.id });
  });

  it("approves a device login for the signed-in user, and refuses API keys and unknown codes", async () => {
    const auth: AuthService = h.deps.auth;
    const start = await auth.startDeviceLogin("sy-cli", "");
    const pending = await user.device.lookup({ userCode: start.user_code.toLowerCase().replace("-", "") });
    expect(pending).toMatchObject({ userCode: start.user_code, clientId: "sy-cli" });

    const key = await h.key("ada", ["inference", "keys"]);
    await expectError((await h.as(key)).device.decide({ userCode: start.user_code, approve: true }), "FORBIDDEN", {
      switchyard: "interactive_session_required",
    });
    expect(await user.device.decide({ userCode: start.user_code, approve: true })).toEqual({
      userCode: start.user_code,
      approved: true,
    });
    const tokens = await auth.token(
      {
        grant_type: "urn:ietf:params:oauth:grant-type:device_code",
        device_code: start.device_code,
        client_id: "sy-cli",
      },
      "127.0.0.1",
    );
    expect((await (await h.as(tokens.access_token)).session.me()).username).toBe("ada");

    await expectError(user.device.decide({ userCode: start.user_code, approve: false }), "NOT_FOUND", {
      message: /There is no pending device login with the code/,
    });
    await expectError(user.device.lookup({ userCode: "ZZZZ-ZZZZ" }), "NOT_FOUND");
    await expectError(user.device.lookup({ userCode: "" }), "BAD_REQUEST", {
      message: /enter the code your terminal shows/,
    });
    const audit = await admin.audit.list({ action: "device." });
    expect(audit.entries[0]).toMatchObject({ action: "device.approve", actor: { username: "ada" } });
  });

  it("pages through the audit log and filters it by actor", async () => {
    // Rows of its own, two by ada and two by root, so it checks something when run alone too.
    await user.keys.create({ name: "audit-1", expiresDays: 30, scopes: ["inference"] });
    await user.keys.create({ name: "audit-2", expiresDays: 30, scopes: ["inference"] });
    await admin.users.create({ username: "audit-a" });
    await admin.users.create({ username: "audit-b" });
    const first = await admin.audit.list({ limit: 3 });
    expect(first.entries).toHaveLength(3);
    expect(first.nextCursor).toBe(first.entries[2]!.id);
    // As the dashboard's infinite query sends it (with tRPC's `direction`).
    const second = await admin.audit.list({ limit: 3, cursor: first.nextCursor!, direction: "forward" });
    expect(Number(second.entries[0]!.id)).toBeLessThan(Number(first.entries[2]!.id));
    const byAda = await admin.audit.list({ actor: "ada", limit: 200 });
    const everything = await admin.audit.list({ limit: 200 });
    expect(everything.nextCursor).toBeNull();
    const adas = everything.entries.filter((e) => e.actor.username === "ada");
    expect(adas.length).toBeGreaterThan(0);
    expect(adas.length).toBeLessThan(everything.entries.length);
    expect(byAda.entries).toEqual(adas);
    expect(byAda.nextCursor).toBeNull();
    await expectError(admin.audit.list({ limit: 1000 }), "BAD_REQUEST", { message: /'limit'/ });
  });
});
