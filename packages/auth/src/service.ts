import type { AuthConfig, Clock } from "@switchyard/core";
import { apiError, SwitchyardError } from "@switchyard/core";
import type { PrismaClient } from "@switchyard/db";
import type { Logger } from "pino";
import { LastUsedTracker } from "./api-keys";
import { auditDeviceDecision, auditSignIn } from "./audit";
import { PrincipalCache } from "./cache";
import { ExpiredRowCleanup } from "./cleanup";
import { AUDIENCE, CredentialResolver, credentialFrom } from "./credentials";
import { dummyPasswordHash, randomToken, verifyPassword } from "./crypto";
import { type DeviceCodeResponse, DeviceFlow } from "./device-flow";
import { OAuthError } from "./oauth-error";
import { ExternalIssuers } from "./oidc";
import { ALL_SCOPES, type Principal } from "./principal";
import type { RedisLink } from "./redis-link";
import { REFRESH_PREFIX, RefreshTokens } from "./refresh-tokens";
import { SigningKeys } from "./signing";
import { DeviceLoginLimit, LoginThrottle } from "./throttle";

export const DEFAULT_CLIENT_ID = "sy-cli";
const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

export interface AuthDeps {
  db: PrismaClient;
  settings: AuthConfig;
  clock: Clock;
  logger: Logger;
  /** The `iss` of our tokens: one value every instance of an install shares (see `sharedIssuer`). */
  issuer: () => string;
  /**
   * The base URL of this instance's links (the device-login page, the discovery document's
   * endpoints); default the issuer. Instances that share an issuer each link to themselves.
   */
  publicUrl?: () => string;
  /** Redis shared by the instances (limits, revocations), when configured. */
  redis?: RedisLink | undefined;
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

/**
 * The built-in issuer and the credential resolver: every route's access guard calls
 * `authenticate`; the OAuth endpoints call the grant methods.
 *
 * About 430 lines: the facade of the package. Who a credential is lives in `credentials.ts`,
 * each mechanism (signing keys, refresh tokens, device flow, throttles, cache, audit) in its
 * own file; what stays here is the caching in front of the resolver and the grants, which
 * share the throttle, the refresh-token chain and the sign-in audit.
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
  private readonly resolver: CredentialResolver;
  /** Credentials being resolved now, shared by the requests that carry them meanwhile. */
  private readonly resolving = new Map<string, Promise<Principal>>();
  /** Bumped when cached credentials are dropped: a lookup begun before must not refill the cache. */
  private cacheGeneration = 0;
  /** Whether the last credential lookup could not run (warned once until one runs again). */
  private checkFailing = false;

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
    this.resolver = new CredentialResolver({
      db,
      keys: this.keys,
      external: this.external,
      lastUsed: this.lastUsed,
      issuer: () => this.issuer(),
    });
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

  /** Where this instance's links point (`publicUrl`, else the issuer). */
  publicUrl(): string {
    return this.deps.publicUrl?.() ?? this.issuer();
  }

  verificationUri(): string {
    return `${this.publicUrl()}/device`;
  }

  async close(): Promise<void> {
    await this.cleanup.stop();
    await this.lastUsed.stop();
    await this.cache.stop();
  }

  // ---- resolving credentials ------------------------------------------------------------

  /**
   * The principal behind a request's credentials, or the catalogue's 401. With the caller's
   * `address`, an API key's first use from it is noted (in memory; the audit row is written by
   * the last-used flush).
   */
  async authenticate(
    authorization: string | undefined,
    apiKeyHeader?: string | string[],
    address?: string,
  ): Promise<Principal> {
    const principal = await this.resolveCredential(authorization, apiKeyHeader);
    if (address !== undefined && principal.keyId) {
      this.lastUsed.usedFrom(
        { keyId: principal.keyId, address, userId: principal.userId, username: principal.username },
        this.deps.clock.now(),
      );
    }
    return principal;
  }

  private async resolveCredential(
    authorization: string | undefined,
    apiKeyHeader: string | string[] | undefined,
  ): Promise<Principal> {
    const credential = credentialFrom(authorization, apiKeyHeader);
    if (!credential) {
      if (authorization)
        throw apiError("invalid_token", { reason: "the Authorization header must be 'Bearer <token>'" });
      throw apiError("missing_credentials", {});
    }
    const cached = this.cache.get(credential);
    if (cached) {
      if (cached.keyId) this.lastUsed.touch(cached.keyId, this.deps.clock.now());
      // A busy credential is checked again shortly before its entry ends, while the entry still
      // answers: its requests never wait for the database (every TTL, the ones that arrived
      // during the lookup did: a tail-latency spike). A refusal drops the entry at once.
      if (this.cache.refreshDue(credential) && !this.resolving.has(credential)) {
        this.lookup(credential).catch(() => {});
      }
      return cached;
    }
    return this.lookup(credential);
  }

  /**
   * Check a credential in the database and cache the answer. One lookup per credential at a
   * time: when a busy key's cache entry expires, the requests that arrive before the database
   * answers wait for that one lookup instead of each sending its own.
   */
  private lookup(credential: string): Promise<Principal> {
    let resolving = this.resolving.get(credential);
    if (!resolving) {
      const generation = this.cacheGeneration;
      const lookup: Promise<Principal> = this.resolver
        .resolve(credential, this.deps.clock.now())
        .then(
          (principal) => {
            if (generation === this.cacheGeneration) this.cache.set(credential, principal);
            this.checkFailing = false;
            return principal;
          },
          (error: unknown) => {
            // A refusal stands (and ends a cached answer); a lookup that could not run (the
            // database is unreachable) falls back to the credential's last answer for a bounded
            // time (the cache's grace).
            if (error instanceof SwitchyardError) {
              this.cache.forget(credential);
              throw error;
            }
            if (!this.checkFailing) {
              this.checkFailing = true;
              this.deps.logger.warn(
                { err: error },
                "auth: cannot check credentials in the database; serving cached ones past their TTL (at most 60 s)",
              );
            }
            const stale = this.cache.stale(credential);
            if (stale) return stale;
            throw apiError("service_unavailable", {
              reason: "credentials cannot be checked while the database is unreachable",
            });
          },
        )
        .finally(() => {
          if (this.resolving.get(credential) === lookup) this.resolving.delete(credential);
        });
      resolving = lookup;
      this.resolving.set(credential, resolving);
    }
    return resolving;
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
        await this.recordSignIn(approved.userId, "device", clientId, address, now);
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
        await this.recordSignIn(result.user.id, "password", clientId, address, now);
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

  /** The audit row of a sign-in (`audit.ts`). */
  private recordSignIn(userId: string, method: "password" | "device", clientId: string, address: string, now: number) {
    return auditSignIn(this.deps.db, { userId, method, clientId, address, at: new Date(now) });
  }

  /** The audit row of a device login decided on the /device page (the user signed in there with a password). */
  recordDeviceDecision(user: { id: string; username: string }, userCode: string, approved: boolean, address: string) {
    return auditDeviceDecision(this.deps.db, {
      user,
      userCode,
      approved,
      address,
      at: new Date(this.deps.clock.now()),
    });
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
