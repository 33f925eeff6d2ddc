import { writeFileSync } from "node:fs";
import path from "node:path";
import { createApiKey, createUser } from "@switchyard/auth";
import { defaultConfigInput, ErrorBodySchema, ManualClock, ModelListSchema } from "@switchyard/core";
import { createPostgresDatabase, type TestPostgresDatabase, testDrivers } from "@switchyard/db/testing";
import { type RouteSpec, routeErrors } from "@switchyard/http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../src";
import { ADMIN_PASSWORD, memoryLogger, passwordToken, tempDataDir } from "./helpers";

const drivers = await testDrivers();

/** A concrete path for a route pattern: `:id` -> `x`, `*id` -> `a/b`. */
function samplePath(pattern: string): string {
  return pattern.replace(/:(\w+)/g, "x").replace(/\*(\w+)/g, "a/b");
}

describe.each(drivers)("authentication and authorization of the server on %s", (driver) => {
  let server: RunningServer;
  let pg: TestPostgresDatabase | undefined;
  const clock = new ManualClock(Date.now());
  const log = memoryLogger();
  let admin: string;
  let user: string;
  let member: string;
  let batchKey: string;
  let revokedKey: string;

  beforeAll(async () => {
    pg = driver === "postgres" ? await createPostgresDatabase() : undefined;
    server = await startServer({
      port: 0,
      host: "127.0.0.1",
      dataDir: tempDataDir(),
      schedulerAutoTick: false,
      inMemoryDatabase: driver === "pglite",
      databaseUrl: pg?.url,
      logger: log.logger,
      clock,
      env: { SWITCHYARD_ADMIN_PASSWORD: ADMIN_PASSWORD },
    });
    const prisma = server.ctx.db.prisma;
    await createUser(prisma, { username: "ada", password: "ada-password-1" });
    const aurora = await createUser(prisma, { username: "grace", password: "grace-password-1", groups: ["auroragpt"] });
    admin = await passwordToken(server.url);
    user = await passwordToken(server.url, "ada", "ada-password-1");
    member = await passwordToken(server.url, "grace", "grace-password-1");
    batchKey = (await createApiKey(prisma, { userId: aurora.id, scopes: ["batch"] })).key;
    const revoked = await createApiKey(prisma, { userId: aurora.id });
    revokedKey = revoked.key;
    await prisma.apiKey.update({ where: { id: revoked.view.id }, data: { revokedAt: new Date() } });
  });
  afterAll(async () => {
    await server?.close();
    await pg?.drop();
  });

  const request = (method: string, path: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: { "content-type": "application/json", ...headers },
      ...(method === "GET" || method === "DELETE" ? {} : { body: "{}" }),
    });

  /** The error's code, which the route's spec must declare (its OpenAPI document lists the same). */
  const declaredCode = async (route: RouteSpec, res: Response): Promise<string | null> => {
    const code = ErrorBodySchema.parse(await res.json()).error.code;
    expect(routeErrors(route), `${route.method} ${route.path} answers ${code}`).toContain(code);
    return code;
  };

  it("guards every route in the route table: 401 without or with bad credentials, 403 for the wrong role or scope", async () => {
    const routes = server.routes.routes;
    expect(routes.length).toBeGreaterThan(10);
    for (const route of routes) {
      const path = samplePath(route.path);
      const label = `${route.method} ${route.path}`;
      if (route.access === "public") {
        const res = await request(route.method, path);
        expect([401, 403], label).not.toContain(res.status);
        continue;
      }
      const none = await request(route.method, path);
      expect(none.status, `${label} without credentials`).toBe(401);
      expect(await declaredCode(route, none)).toBe("missing_credentials");
      expect(none.headers.get("www-authenticate"), label).toMatch(/^Bearer/);

      const bad = await request(route.method, path, { authorization: "Bearer not.a.token" });
      expect(bad.status, `${label} with a bad token`).toBe(401);
      expect(await declaredCode(route, bad)).toBe("invalid_token");

      const revoked = await request(route.method, path, { authorization: `Bearer ${revokedKey}` });
      expect(revoked.status, `${label} with a revoked key`).toBe(401);
      await declaredCode(route, revoked);

      const asUser = await request(route.method, path, { authorization: `Bearer ${user}` });
      if (route.access === "admin") {
        expect(asUser.status, `${label} as a non-admin`).toBe(403);
        expect(await declaredCode(route, asUser)).toBe("admin_required");
      } else {
        expect([401, 403], `${label} as a user`).not.toContain(asUser.status);
      }
      const scope = route.scope ?? "inference";
      if (scope !== "batch" && scope !== "any") {
        const wrongScope = await request(route.method, path, { authorization: `Bearer ${batchKey}` });
        expect(wrongScope.status, `${label} with a batch-only key`).toBe(403);
        await declaredCode(route, wrongScope);
      }
    }
  });

  it("answers 401 token_expired once 48 h have passed", async () => {
    const token = await passwordToken(server.url, "ada", "ada-password-1");
    clock.advance(48 * 3600_000 + 1000);
    try {
      const res = await request("GET", "/v1/models", { authorization: `Bearer ${token}` });
      expect(res.status).toBe(401);
      expect(ErrorBodySchema.parse(await res.json()).error.code).toBe("token_expired");
    } finally {
      clock.advance(-(48 * 3600_000 + 1000));
    }
  });

  it("applies group policies: restricted models are hidden from others and refused with 403", async () => {
    const auroraModel = "argonne-private/AuroraGPT-IT-v4-0125";
    const asUser = ModelListSchema.parse(
      await (await request("GET", "/v1/models", { authorization: `Bearer ${user}` })).json(),
    );
    expect(asUser.data.map((m) => m.id)).not.toContain(auroraModel);
    const direct = await request("GET", `/v1/models/${auroraModel}`, { authorization: `Bearer ${user}` });
    expect(direct.status).toBe(403);
    expect(ErrorBodySchema.parse(await direct.json()).error).toMatchObject({
      code: "model_access_denied",
      message: `You do not have access to model '${auroraModel}'; it is limited to the groups: auroragpt.`,
    });
    const asMember = ModelListSchema.parse(
      await (await request("GET", "/v1/models", { authorization: `Bearer ${member}` })).json(),
    );
    expect(asMember.data.map((m) => m.id)).toContain(auroraModel);
    const asAdmin = ModelListSchema.parse(
      await (await request("GET", "/v1/models", { authorization: `Bearer ${admin}` })).json(),
    );
    expect(asAdmin.data).toHaveLength(server.ctx.config.models.length);
  });

  it("logs who called, never the secrets they sent", async () => {
    await request("GET", "/v1/models", { authorization: `Bearer ${user}` });
    await request("GET", "/v1/me", { authorization: `Bearer ${batchKey}` });
    await fetch(`${server.url}/auth/token`, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "password", username: "ada", password: "ada-password-1" }),
    });
    const text = log.lines.join("\n");
    expect(text).toMatch(/"user":"ada"/);
    for (const secret of [user, admin, batchKey, revokedKey, "ada-password-1", ADMIN_PASSWORD]) {
      expect(text).not.toContain(secret);
    }
  });

  it("runs the device flow against the whole server", async () => {
    const start = (await (
      await fetch(`${server.url}/auth/device/code`, {
        method: "POST",
        body: new URLSearchParams({ client_id: "sy-cli" }),
      })
    ).json()) as Record<string, string>;
    const approve = await fetch(`${server.url}/device`, {
      method: "POST",
      body: new URLSearchParams({
        user_code: String(start.user_code),
        username: "ada",
        password: "ada-password-1",
        action: "approve",
      }),
    });
    expect(await approve.text()).toContain("Device approved");
    const tokens = (await (
      await fetch(`${server.url}/auth/token`, {
        method: "POST",
        body: new URLSearchParams({
          grant_type: "urn:ietf:params:oauth:grant-type:device_code",
          device_code: String(start.device_code),
          client_id: "sy-cli",
        }),
      })
    ).json()) as { access_token: string };
    const models = await request("GET", "/v1/models", { authorization: `Bearer ${tokens.access_token}` });
    expect(models.status).toBe(200);
  });
});

describe("switchyard serve behind a reverse proxy named in http.trustProxy", () => {
  let server: RunningServer;
  beforeAll(async () => {
    const dataDir = tempDataDir();
    const configFile = path.join(dataDir, "switchyard.config.yaml");
    writeFileSync(configFile, JSON.stringify({ ...defaultConfigInput(), http: { trustProxy: ["127.0.0.1"] } }));
    server = await startServer({
      port: 0,
      host: "127.0.0.1",
      dataDir,
      configFile,
      inMemoryDatabase: true,
      schedulerAutoTick: false,
      logger: memoryLogger().logger,
      env: { SWITCHYARD_ADMIN_PASSWORD: ADMIN_PASSWORD },
    });
  });
  afterAll(() => server?.close());

  const signIn = (password: string, client: string) =>
    fetch(`${server.url}/auth/token`, {
      method: "POST",
      headers: { "x-forwarded-for": client },
      body: new URLSearchParams({ grant_type: "password", username: "admin", password }),
    });

  it("one client's wrong passwords for the admin lock out that client, not the admin elsewhere", async () => {
    for (let i = 0; i < 6; i++) await signIn("guess", "203.0.113.7");
    expect((await signIn(ADMIN_PASSWORD, "203.0.113.7")).status).toBe(429);
    expect((await signIn(ADMIN_PASSWORD, "198.51.100.20")).status).toBe(200);
  });
});
