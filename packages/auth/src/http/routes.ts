import {
  ApiKeyListSchema,
  ApiKeyObjectSchema,
  apiError,
  CreateApiKeyRequestSchema,
  CreatedApiKeySchema,
  MeSchema,
  SwitchyardError,
} from "@switchyard/core";
import { BODY_ERRORS, named, type RouteTable, readFormOrJson, readJsonObject } from "@switchyard/http";
import type { Request, Response, Router } from "express";
import { apiKeyExpiry, createApiKey, listApiKeys, revokeApiKey } from "../api-keys";
import { principalOf } from "../guard";
import { OAuthError } from "../oauth-error";
import { ALL_SCOPES, actsAsAdmin, hasScope } from "../principal";
import type { AuthService } from "../service";
import { deviceForm, deviceResult } from "./device-page";

function clientAddress(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? "unknown";
}

/** OAuth endpoints answer in RFC 6749's shape, never cached. */
async function oauth(res: Response, work: () => Promise<unknown>, status = 200): Promise<void> {
  res.set("cache-control", "no-store").set("pragma", "no-cache");
  try {
    const body = await work();
    res.status(status).json(body);
  } catch (error) {
    if (error instanceof OAuthError) {
      res.status(error.status).set(error.headers).json(error.body());
      return;
    }
    if (error instanceof SwitchyardError && error.status < 500) {
      // Body problems (size, JSON, content type) found before any grant logic.
      res.status(error.status).json({ error: "invalid_request", error_description: error.message });
      return;
    }
    throw error;
  }
}

function keyJson(view: Awaited<ReturnType<typeof listApiKeys>>[number]) {
  return {
    id: view.id,
    object: "api_key",
    name: view.name,
    user: view.user,
    prefix: view.prefix,
    scopes: view.scopes,
    created_at: view.createdAt.toISOString(),
    expires_at: view.expiresAt?.toISOString() ?? null,
    revoked_at: view.revokedAt?.toISOString() ?? null,
    last_used_at: view.lastUsedAt?.toISOString() ?? null,
  };
}

export function registerAuthRoutes(router: Router, routes: RouteTable, auth: AuthService): void {
  routes.add(
    router,
    { method: "GET", path: "/.well-known/openid-configuration", access: "public", summary: "Issuer metadata" },
    (_req, res) => {
      // The tokens' issuer, and this instance's own endpoints (the same URL unless several
      // instances share the issuer without `auth.issuer` naming a public URL).
      const base = auth.publicUrl();
      res.set("cache-control", "public, max-age=300").json({
        issuer: auth.issuer(),
        token_endpoint: `${base}/auth/token`,
        device_authorization_endpoint: `${base}/auth/device/code`,
        revocation_endpoint: `${base}/auth/revoke`,
        jwks_uri: `${base}/.well-known/jwks.json`,
        userinfo_endpoint: `${base}/v1/me`,
        grant_types_supported: ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token", "password"],
        response_types_supported: [],
        subject_types_supported: ["public"],
        token_endpoint_auth_methods_supported: ["none"],
        id_token_signing_alg_values_supported: ["EdDSA"],
        access_token_signing_alg_values_supported: ["EdDSA"],
      });
    },
  );
  routes.add(
    router,
    { method: "GET", path: "/.well-known/jwks.json", access: "public", summary: "Public keys of access tokens" },
    (_req, res) => {
      res.set("cache-control", "public, max-age=300").json(auth.keys.publicKeys());
    },
  );
  routes.add(
    router,
    { method: "POST", path: "/auth/device/code", access: "public", summary: "Start a device login (RFC 8628)" },
    async (req, res) => {
      await oauth(res, async () => {
        const params = await readFormOrJson(req);
        return auth.startDeviceLogin(params.client_id, params.scope, clientAddress(req));
      });
    },
  );
  routes.add(
    router,
    { method: "POST", path: "/auth/token", access: "public", summary: "Device, refresh-token and password grants" },
    async (req, res) => {
      await oauth(res, async () => auth.token(await readFormOrJson(req), clientAddress(req)));
    },
  );
  routes.add(
    router,
    { method: "POST", path: "/auth/revoke", access: "public", summary: "Revoke a token (RFC 7009)" },
    async (req, res) => {
      await oauth(res, async () => {
        const params = await readFormOrJson(req);
        if (!params.token) throw new OAuthError("invalid_request", "token is required");
        await auth.revoke(params.token);
        return {};
      });
    },
  );

  routes.add(
    router,
    { method: "GET", path: "/device", access: "public", summary: "Approve a device login (web page)" },
    (req, res) => {
      const code = typeof req.query.user_code === "string" ? req.query.user_code : "";
      res
        .type("html")
        .set("cache-control", "no-store")
        .send(deviceForm({ userCode: code }));
    },
  );
  routes.add(
    router,
    { method: "POST", path: "/device", access: "public", summary: "Approve or deny a device login" },
    async (req, res) => {
      res.type("html").set("cache-control", "no-store");
      let params: Record<string, string>;
      try {
        params = await readFormOrJson(req);
      } catch {
        res.status(400).send(deviceForm({ error: "The form could not be read; try again." }));
        return;
      }
      const code = params.user_code ?? "";
      const now = auth.now();
      const pending = await auth.device.lookup(code, now);
      if (!pending) {
        res.status(400).send(
          deviceForm({
            userCode: code,
            error: "That code is unknown, expired or already used. Run 'sy login' again.",
          }),
        );
        return;
      }
      const login = await auth.login(params.username ?? "", params.password ?? "", clientAddress(req));
      if (!login.ok) {
        if (login.reason === "throttled") {
          res
            .status(429)
            .set("retry-after", String(login.retryAfter))
            .send(
              deviceForm({ userCode: code, error: `Too many failed attempts. Try again in ${login.retryAfter} s.` }),
            );
          return;
        }
        res.status(401).send(deviceForm({ userCode: code, error: "Wrong username or password." }));
        return;
      }
      const approve = params.action !== "deny";
      const decided = await auth.device.decide(code, login.user.id, approve, now);
      if (!decided) {
        res
          .status(400)
          .send(deviceForm({ error: "That code was decided meanwhile or expired. Run 'sy login' again." }));
        return;
      }
      await auth.recordDeviceDecision(login.user, code, approve, clientAddress(req));
      res.send(deviceResult(approve, login.user.username));
    },
  );

  routes.add(
    router,
    {
      method: "GET",
      path: "/v1/me",
      access: "user",
      scope: "any",
      summary: "Who am I: user, groups, credential expiry",
      response: { content: { "application/json": named("Me", MeSchema) } },
    },
    (_req, res) => {
      const p = principalOf(res);
      res.json({
        object: "user",
        id: p.userId,
        username: p.username,
        role: p.role,
        groups: p.groups,
        authenticated_via: p.via,
        scopes: p.scopes === "all" ? [...ALL_SCOPES] : p.scopes,
        expires_at: p.expiresAt === null ? null : new Date(p.expiresAt).toISOString(),
        ...(p.keyId ? { api_key_id: p.keyId } : {}),
        ...(p.issuer ? { issuer: p.issuer } : {}),
      });
    },
  );

  routes.add(
    router,
    {
      method: "GET",
      path: "/v1/keys",
      access: "user",
      scope: "keys",
      summary: "List your API keys",
      response: { content: { "application/json": named("ApiKeyList", ApiKeyListSchema) } },
    },
    async (_req, res) => {
      const keys = await listApiKeys(auth.db, { userId: principalOf(res).userId });
      res.json({ object: "list", data: keys.map(keyJson) });
    },
  );
  routes.add(
    router,
    {
      method: "POST",
      path: "/v1/keys",
      access: "user",
      scope: "keys",
      summary: "Create an API key (shown once)",
      // The handler checks the fields itself (each 400 names its field); the schema documents them.
      body: { schema: named("CreateApiKeyRequest", CreateApiKeyRequestSchema), readBy: "handler" },
      response: {
        status: 201,
        description: "The key, with its secret in `key`: shown this once.",
        content: { "application/json": named("CreatedApiKey", CreatedApiKeySchema) },
      },
      errors: BODY_ERRORS,
    },
    async (req, res) => {
      const p = principalOf(res);
      const params = await readJsonObject(req);
      const name = params.name;
      if (name !== undefined && (typeof name !== "string" || name.length > 100)) {
        throw apiError("invalid_field", { param: "name", detail: "expected a string of at most 100 characters" });
      }
      const days = params.expires_days;
      if (
        days !== undefined &&
        days !== null &&
        (typeof days !== "number" || !Number.isInteger(days) || days < 0 || days > 3650)
      ) {
        throw apiError("invalid_field", {
          param: "expires_days",
          detail: "expected a whole number of days from 0 (never) to 3650",
        });
      }
      const scopes = params.scopes ?? ["inference", "batch"];
      if (!Array.isArray(scopes) || scopes.some((s) => !(ALL_SCOPES as unknown[]).includes(s))) {
        throw apiError("invalid_field", { param: "scopes", detail: `expected a list of ${ALL_SCOPES.join(", ")}` });
      }
      for (const scope of scopes as (typeof ALL_SCOPES)[number][]) {
        // No escalation: a key can only grant what its creator holds (and admin needs the role).
        if (!hasScope(p, scope) || (scope === "admin" && p.role !== "admin"))
          throw apiError("insufficient_scope", { scope });
      }
      const expiresAt = apiKeyExpiry(
        days as number | null | undefined,
        auth.settings.apiKeyDefaultExpiryDays,
        auth.now(),
      );
      const { key, view } = await createApiKey(auth.db, {
        userId: p.userId,
        name: name as string | undefined,
        expiresAt,
        scopes: scopes as (typeof ALL_SCOPES)[number][],
      });
      res
        .status(201)
        .set("cache-control", "no-store")
        .json({ ...keyJson(view), key });
    },
  );
  routes.add(
    router,
    {
      method: "DELETE",
      path: "/v1/keys/:id",
      access: "user",
      scope: "keys",
      summary: "Revoke one of your API keys",
      response: {
        description: "The revoked key.",
        content: { "application/json": named("ApiKey", ApiKeyObjectSchema) },
      },
    },
    async (req, res) => {
      const p = principalOf(res);
      const view = await revokeApiKey(
        auth.db,
        String(req.params.id),
        new Date(auth.now()),
        actsAsAdmin(p) ? {} : { userId: p.userId },
      );
      await auth.credentialsChanged();
      res.json(keyJson(view));
    },
  );
}
