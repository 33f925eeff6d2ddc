import type { AuthConfig, Clock } from "@switchyard/core";
import { apiError } from "@switchyard/core";
import type { PrismaClient, PrismaClientOrTransaction } from "@switchyard/db";
import type { Redis } from "ioredis";
import { decodeJwt } from "jose";
import type { Logger } from "pino";
import { apiKeyHash, isApiKey, LastUsedTracker } from "./api-keys";
import { PrincipalCache } from "./cache";
import { ExpiredRowCleanup } from "./cleanup";
import { dummyPasswordHash, randomToken, verifyPassword } from "./crypto";
import { type DeviceCodeResponse, DeviceFlow } from "./device-flow";
import { OAuthError } from "./oauth-error";
import { type ExternalIdentity, ExternalIssuers, ExternalTokenError } from "./oidc";
import { ALL_SCOPES, type Principal } from "./principal";
import { REFRESH_PREFIX, RefreshTokens } from "./refresh-tokens";
import { SigningKeys } from "./signing";
import { DeviceLoginLimit, LoginThrottle } from "./throttle";
import { findUserView, validateUsername } from "./users";

/** The audience of access tokens this server issues. */
export const AUDIENCE = "switchyard";
export const DEFAULT_CLIENT_ID = "sy-cli";
const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

export interface AuthDeps {
  db: PrismaClient;
  settings: AuthConfig;
  clock: Clock;
  logger: Logger;
  /** The public base URL (the `iss` of our tokens); known once the server listens. */
  issuer: () => string;
  redis?: Redis | undefined;
  env?: NodeJS.ProcessEnv;
}

export interface TokenResponse {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  refresh_token: string;
  scope: string;
}

export type LoginResult =
  | { ok: true; user: { id: string; username: string } }
  | { ok: false; reason: "invalid_credentials" }
  | { ok: false; reason: "throttled"; retryAfter: number };

/** `Bearer <token>` (or an `x-api-key` header, as Anthropic-style clients send it). */
export function credentialFrom(
  authorization: string | undefined,
  apiKeyHeader?: string | string[],
): string | undefined {
  if (authorization) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    return match?.[1];
  }
  if (typeof apiKeyHeader === "string" && apiKeyHeader.length > 0) return apiKeyHeader.trim();
  return undefined;
}

/**
 * The built-in issuer and the credential resolver: every route's access guard calls
 * `authenticate`; the OAuth endpoints call the grant methods.
 */
export class AuthService {
  readonly keys: SigningKeys;
  readonly refreshTokens: RefreshTokens;
  readonly device: DeviceFlow;
  readonly lastUsed: LastUsedTracker;
  readonly throttle: LoginThrottle;
  readonly deviceLogins: DeviceLoginLimit;
  readonly cleanup: ExpiredRowCleanup;
  readonly external: ExternalIssuers;
  readonly cache: PrincipalCache;
  /** Credentials being resolved now, shared by the requests that carry them meanwhile. */
  private readonly resolving = new Map<string, Promise<Principal>>();
  /** Bumped when cached credentials are dropped: a lookup begun before must not refill the cache. */
  private cacheGeneration = 0;

  private constructor(private readonly deps: AuthDeps) {
    const { db, settings, clock } = deps;
    this.keys = new SigningKeys(db);
    this.refreshTokens = new RefreshTokens(db, settings.refreshLifetime * 1000);
    this.device = new DeviceFlow(db, {
      ttlMs: settings.deviceCodeTtl * 1000,
      intervalSeconds: settings.devicePollInterval,
    });
    this.lastUsed = new LastUsedTracker(db);
    this.throttle = new LoginThrottle(settings.loginAttempts, deps.redis);
    this.deviceLogins = new DeviceLoginLimit(settings.deviceCodeRequests, deps.redis);
    this.cleanup = new ExpiredRowCleanup(db, clock, deps.logger, settings.cleanupInterval * 1000);
    this.external = new ExternalIssuers(settings.oidc, { clock, env: deps.env ?? process.env, redis: deps.redis });
    this.cache = new PrincipalCache(clock, settings.principalCacheTtl * 1000, deps.redis, deps.logger);
    this.cache.onClear(() => {
      this.cacheGeneration++;
      this.resolving.clear();
    });
  }

  static async create(deps: AuthDeps): Promise<AuthService> {
    const service = new AuthService(deps);
    await service.keys.init();
    await service.cache.start();
    service.lastUsed.start();
    service.cleanup.start();
    return service;
  }

  get settings(): AuthConfig {
    return this.deps.settings;
  }

  get db(): PrismaClient {
    return this.deps.db;
  }

  now(): number {
    return this.deps.clock.now();
  }

  issuer(): string {
    return this.deps.issuer();
  }

  verificationUri(): string {
    return `${this.issuer()}/device`;
  }

  async close(): Promise<void> {
    await this.cleanup.stop();
    await this.lastUsed.stop();
    await this.cache.stop();
  }

  // ---- resolving credentials ------------------------------------------------------------

  /** The principal behind a request's credentials, or the catalogue's 401. */
  async authenticate(authorization: string | undefined, apiKeyHeader?: string | string[]): Promise<Principal> {
    const credential = credentialFrom(authorization, apiKeyHeader);
    if (!credential) {
      if (authorization)
        throw apiError("invalid_token", { reason: "the Authorization header must be 'Bearer <token>'" });
      throw apiError("missing_credentials", {});
    }
    const cached = this.cache.get(credential);
    if (cached) {
      if (cached.keyId) this.lastUsed.touch(cached.keyId, this.deps.clock.now());
      return cached;
    }
    // One lookup per credential at a time: when a busy key's cache entry expires, the requests
    // that arrive before the database answers wait for that one lookup instead of each sending
    // its own (a burst of queries that showed up as a tail-latency spike every cache TTL).
    let resolving = this.resolving.get(credential);
    if (!resolving) {
      const generation = this.cacheGeneration;
      const lookup: Promise<Principal> = this.resolve(credential)
        .then((principal) => {
          if (generation === this.cacheGeneration) this.cache.set(credential, principal);
          return principal;
        })
        .finally(() => {
          if (this.resolving.get(credential) === lookup) this.resolving.delete(credential);
        });
      resolving = lookup;
      this.resolving.set(credential, resolving);
    }
    return resolving;
  }

  private async resolve(credential: string): Promise<Principal> {
    const now = this.deps.clock.now();
    if (isApiKey(credential)) return this.resolveApiKey(credential, now);
    if (credential.startsWith(REFRESH_PREFIX)) {
      throw apiError("invalid_token", {
        reason: "that is a refresh token; send the access token ('sy token' prints one)",
      });
    }
    const parts = credential.split(".");
    if (parts.length === 3) {
      let issuer: string | undefined;
      try {
        issuer = decodeJwt(credential).iss;
      } catch {
        throw apiError("invalid_token", { reason: "malformed JWT" });
      }
      if (issuer === this.issuer()) return this.resolveOwnToken(credential, now);
      if (issuer && this.external.knows(issuer)) {
        return this.principalFor(await this.externalIdentity(() => this.external.verifyJwt(credential, issuer)));
      }
      throw apiError("invalid_token", {
        reason: `tokens issued by ${issuer ?? "an unnamed issuer"} are not accepted here`,
      });
    }
    if (this.external.configured) {
      const identity = await this.externalIdentity(() => this.external.introspect(credential));
      if (identity) return this.principalFor(identity);
    }
    throw apiError("invalid_token", { reason: "not a token or API key this server knows" });
  }

  private async resolveApiKey(key: string, now: number): Promise<Principal> {
    const row = await this.deps.db.apiKey.findUnique({ where: { hash: apiKeyHash(key) } });
    if (!row) throw apiError("invalid_api_key", { reason: "unknown key" });
    if (row.revokedAt) throw apiError("invalid_api_key", { reason: `key ${row.id} was revoked` });
    if (row.expiresAt && row.expiresAt.getTime() <= now) {
      throw apiError("invalid_api_key", { reason: `key ${row.id} expired at ${row.expiresAt.toISOString()}` });
    }
    const user = await findUserView(this.deps.db, { id: row.userId });
    if (!user || user.disabled) throw apiError("invalid_api_key", { reason: "the key's user is disabled" });
    this.lastUsed.touch(row.id, now);
    return {
      userId: user.id,
      username: user.username,
      role: user.role,
      groups: user.groups,
      via: "api_key",
      scopes: row.scopes.filter((s): s is (typeof ALL_SCOPES)[number] => (ALL_SCOPES as string[]).includes(s)),
      expiresAt: row.expiresAt?.getTime() ?? null,
      keyId: row.id,
    };
  }

  private async resolveOwnToken(token: string, now: number): Promise<Principal> {
    let payload: Awaited<ReturnType<SigningKeys["verify"]>>["payload"];
    try {
      ({ payload } = await this.keys.verify(token, { issuer: this.issuer(), audience: AUDIENCE, now }));
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "ERR_JWT_EXPIRED") {
        const exp = decodeJwt(token).exp ?? 0;
        throw apiError("token_expired", { expiredAt: new Date(exp * 1000).toISOString() });
      }
      const reasons: Record<string, string> = {
        ERR_JWS_SIGNATURE_VERIFICATION_FAILED: "bad signature",
        ERR_JWKS_NO_MATCHING_KEY: "signed by an unknown key",
        ERR_JOSE_ALG_NOT_ALLOWED: "signing algorithm not allowed",
        ERR_JWT_CLAIM_VALIDATION_FAILED: (error as Error).message,
      };
      throw apiError("invalid_token", { reason: (code && reasons[code]) || "malformed token" });
    }
    if (payload.jti && (await this.deps.db.revokedToken.findUnique({ where: { jti: payload.jti } }))) {
      throw apiError("invalid_token", { reason: "the token was revoked" });
    }
    const user = payload.sub ? await findUserView(this.deps.db, { id: payload.sub }) : undefined;
    if (!user) throw apiError("invalid_token", { reason: "the token's user no longer exists" });
    if (user.disabled) throw apiError("invalid_token", { reason: "the account is disabled" });
    return {
      userId: user.id,
      username: user.username,
      role: user.role,
      groups: user.groups,
      via: "access_token",
      scopes: "all",
      expiresAt: (payload.exp ?? 0) * 1000,
      ...(payload.jti ? { tokenId: payload.jti } : {}),
    };
  }

  /** Run an external verification, turning its failures into the catalogue's 401s. */
  private async externalIdentity<T>(verify: () => Promise<T>): Promise<T> {
    try {
      return await verify();
    } catch (error) {
      if (error instanceof ExternalTokenError) {
        if (error.expired) throw apiError("token_expired", { expiredAt: "the time its issuer set" });
        throw apiError("invalid_token", { reason: error.message });
      }
      throw error;
    }
  }

  private async principalFor(identity: ExternalIdentity): Promise<Principal> {
    const user = await provisionExternalUser(this.deps.db, identity);
    if (user.disabled) throw apiError("invalid_token", { reason: "the account is disabled" });
    return {
      userId: user.id,
      username: user.username,
      role: user.role,
      groups: user.groups,
      via: "oidc",
      scopes: "all",
      expiresAt: identity.expiresAt,
      issuer: identity.issuer,
    };
  }

  // ---- signing in -----------------------------------------------------------------------

  /**
   * Check a username and password. The attempt is counted (per user at this address, and per
   * address) before the password is looked at, and given back when it was right.
   */
  async login(username: string, password: string, address: string): Promise<LoginResult> {
    const attempt = await this.throttle.attempt(username, address);
    if (!attempt.allowed) return { ok: false, reason: "throttled", retryAfter: attempt.retryAfter };
    const user = await this.deps.db.user.findUnique({ where: { username } });
    // Compare against a dummy hash for unknown users, so timing does not reveal who exists.
    const ok = await verifyPassword(password, user?.passwordHash ?? (await dummyPasswordHash()));
    const signedIn = Boolean(user?.passwordHash) && ok && !user?.disabled;
    await attempt.settle(signedIn);
    if (!user || !signedIn) return { ok: false, reason: "invalid_credentials" };
    return { ok: true, user: { id: user.id, username: user.username } };
  }

  /** A new access token (48 h JWT) and refresh token for a user. */
  async issueTokens(
    userId: string,
    options: { clientId: string; scope: string; authTime: Date; refreshToken?: string },
  ): Promise<TokenResponse> {
    const now = this.deps.clock.now();
    const user = await this.deps.db.user.findUnique({ where: { id: userId } });
    if (!user) throw new OAuthError("invalid_grant", "the user no longer exists");
    const ttl = this.deps.settings.accessTokenTtl;
    const accessToken = await this.keys.sign(
      {
        preferred_username: user.username,
        scope: options.scope,
        client_id: options.clientId,
        auth_time: Math.floor(options.authTime.getTime() / 1000),
      },
      {
        issuer: this.issuer(),
        audience: AUDIENCE,
        subject: user.id,
        jwtId: randomToken(16),
        issuedAt: now,
        expiresAt: now + ttl * 1000,
      },
    );
    const refreshToken =
      options.refreshToken ??
      (await this.refreshTokens.issue(
        { userId, clientId: options.clientId, scope: options.scope, authTime: options.authTime },
        now,
      ));
    return {
      access_token: accessToken,
      token_type: "Bearer",
      expires_in: ttl,
      refresh_token: refreshToken,
      scope: options.scope,
    };
  }

  /** POST /auth/token: the device, refresh and password grants (RFC 6749 errors). */
  async token(params: Record<string, string>, address: string): Promise<TokenResponse> {
    const now = this.deps.clock.now();
    const clientId = params.client_id || DEFAULT_CLIENT_ID;
    if (!/^[\w.:-]{1,64}$/.test(clientId))
      throw new OAuthError("invalid_client", "client_id is not a valid client name", 401);
    switch (params.grant_type) {
      case DEVICE_GRANT: {
        if (!params.device_code) throw new OAuthError("invalid_request", "device_code is required");
        const approved = await this.device.poll(params.device_code, clientId, now);
        await this.touchLogin(approved.userId, approved.approvedAt);
        return this.issueTokens(approved.userId, { clientId, scope: approved.scope, authTime: approved.approvedAt });
      }
      case "refresh_token": {
        if (!params.refresh_token) throw new OAuthError("invalid_request", "refresh_token is required");
        const rotated = await this.refreshTokens.rotate(params.refresh_token, now);
        return this.issueTokens(rotated.grant.userId, {
          clientId: rotated.grant.clientId,
          scope: rotated.grant.scope,
          authTime: rotated.grant.authTime,
          refreshToken: rotated.refreshToken,
        });
      }
      case "password": {
        if (!params.username || !params.password)
          throw new OAuthError("invalid_request", "username and password are required");
        requestedScope(params.scope);
        const result = await this.login(params.username, params.password, address);
        if (!result.ok && result.reason === "throttled") {
          throw new OAuthError(
            "too_many_attempts",
            `too many failed sign-in attempts; try again in ${result.retryAfter} s`,
            429,
            { "retry-after": String(result.retryAfter) },
          );
        }
        if (!result.ok) throw new OAuthError("invalid_grant", "wrong username or password");
        const authTime = new Date(now);
        await this.touchLogin(result.user.id, authTime);
        return this.issueTokens(result.user.id, { clientId, scope: requestedScope(params.scope), authTime });
      }
      case undefined:
      case "":
        throw new OAuthError("invalid_request", "grant_type is required");
      default:
        throw new OAuthError("unsupported_grant_type", `grant_type '${params.grant_type}' is not supported`);
    }
  }

  private async touchLogin(userId: string, at: Date): Promise<void> {
    await this.deps.db.user.update({ where: { id: userId }, data: { lastLoginAt: at } });
  }

  /**
   * POST /auth/device/code: anyone may call it, so each address (given for every HTTP caller;
   * in-process callers have none) gets a bounded number of rows.
   */
  async startDeviceLogin(
    clientId: string | undefined,
    scope: string | undefined,
    address?: string,
  ): Promise<DeviceCodeResponse> {
    const client = clientId || DEFAULT_CLIENT_ID;
    if (!/^[\w.:-]{1,64}$/.test(client))
      throw new OAuthError("invalid_client", "client_id is not a valid client name", 401);
    const granted = requestedScope(scope);
    const wait = address === undefined ? 0 : await this.deviceLogins.take(address);
    if (wait > 0) {
      throw new OAuthError(
        "too_many_requests",
        `too many device logins started from this address; try again in ${wait} s`,
        429,
        { "retry-after": String(wait) },
      );
    }
    return this.device.start({
      clientId: client,
      scope: granted,
      verificationUri: this.verificationUri(),
      now: this.deps.clock.now(),
    });
  }

  /** RFC 7009: revoke a refresh token's session or an access token. Always succeeds. */
  async revoke(token: string): Promise<void> {
    const now = this.deps.clock.now();
    if (token.startsWith(REFRESH_PREFIX)) {
      await this.refreshTokens.revoke(token, now);
      return;
    }
    if (token.split(".").length === 3) {
      try {
        const { payload } = await this.keys.verify(token, { issuer: this.issuer(), audience: AUDIENCE, now });
        if (payload.jti && payload.exp) {
          await this.deps.db.revokedToken.upsert({
            where: { jti: payload.jti },
            create: { jti: payload.jti, expiresAt: new Date(payload.exp * 1000) },
            update: {},
          });
          await this.cache.invalidateAll();
        }
      } catch {
        // An invalid or foreign token needs no revoking (RFC 7009 §2.2).
      }
    }
  }

  /** After an API key is revoked or a user changes: forget cached credentials everywhere. */
  async credentialsChanged(): Promise<void> {
    await this.cache.invalidateAll();
  }

  /**
   * Be told when credentials may have stopped working (a revocation or user change on this
   * instance, or on another one through Redis), so long-lived work can check its caller again.
   */
  onCredentialsChanged(listener: () => void): () => void {
    return this.cache.onClear(listener);
  }
}

/** Scope values a client may ask for: ours, and the OpenID ones generic clients send. */
const KNOWN_SCOPES = new Set<string>([...ALL_SCOPES, "openid", "profile", "email", "offline_access"]);

/** The requested `scope`, normalised (known values, each once), or RFC 6749's invalid_scope. */
function requestedScope(scope: string | undefined): string {
  if (scope === undefined || scope.trim() === "") return "";
  const values = scope.trim().split(/\s+/);
  const unknown = values.find((v) => !KNOWN_SCOPES.has(v));
  if (unknown !== undefined) {
    const shown = unknown.length > 32 ? `${unknown.slice(0, 32)}...` : unknown;
    throw new OAuthError("invalid_scope", `unknown scope '${shown}'; known: ${[...KNOWN_SCOPES].join(" ")}`);
  }
  return [...new Set(values)].join(" ");
}

/**
 * A user first seen through an external issuer is created on first use (a username taken by
 * someone else gets the issuer's host appended); their groups follow the groups claim. Only
 * memberships that came from the claim are removed by a sync.
 */
export async function provisionExternalUser(db: PrismaClientOrTransaction, identity: ExternalIdentity) {
  let user = await db.user.findUnique({
    where: { issuer_subject: { issuer: identity.issuer, subject: identity.subject } },
  });
  if (!user) {
    let username = identity.username.replace(/[^A-Za-z0-9._@-]/g, "_").slice(0, 64) || "user";
    if (await db.user.findUnique({ where: { username } }))
      username = `${username}@${new URL(identity.issuer).host}`.slice(0, 64);
    validateUsername(username);
    user = await db.user.create({
      data: { username, issuer: identity.issuer, subject: identity.subject, role: "user" },
    });
  }
  const current = await db.groupMember.findMany({
    where: { userId: user.id, source: "oidc" },
    include: { group: true },
  });
  const have = new Set(current.map((m) => m.group.name));
  const want = new Set(identity.groups);
  for (const name of want) {
    if (have.has(name)) continue;
    const group = await db.group.upsert({ where: { name }, create: { name }, update: {} });
    await db.groupMember.upsert({
      where: { userId_groupId: { userId: user.id, groupId: group.id } },
      create: { userId: user.id, groupId: group.id, source: "oidc" },
      update: {},
    });
  }
  const stale = current.filter((m) => !want.has(m.group.name)).map((m) => m.groupId);
  if (stale.length > 0)
    await db.groupMember.deleteMany({ where: { userId: user.id, groupId: { in: stale }, source: "oidc" } });
  const view = await findUserView(db, { id: user.id });
  if (!view) throw new Error("user vanished during provisioning");
  return view;
}
