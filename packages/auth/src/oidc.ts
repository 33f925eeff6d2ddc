import type { Clock, OidcIssuerConfig } from "@switchyard/core";
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from "jose";
import { LRUCache } from "lru-cache";
import { sha256Hex } from "./crypto";
import type { RedisLink } from "./redis-link";

/** Who an external issuer says the caller is. */
export interface ExternalIdentity {
  issuer: string;
  subject: string;
  username: string;
  groups: string[];
  /** ms since epoch, or null when the issuer did not say. */
  expiresAt: number | null;
}

export class ExternalTokenError extends Error {
  constructor(
    message: string,
    readonly expired = false,
  ) {
    super(message);
    this.name = "ExternalTokenError";
  }
}

// Algorithms accepted from external issuers: asymmetric only (never `none` or shared secrets).
const EXTERNAL_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];

function claimList(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string");
  if (typeof value === "string") return value.split(/[\s,]+/).filter(Boolean);
  return [];
}

/**
 * Tokens from the identity providers a centre already runs: JWTs verified against the
 * issuer's JWKS (fetched once, refetched on an unknown `kid`), opaque tokens through RFC 7662
 * introspection. Introspection results are cached (in Redis when configured, so instances
 * share them) until min(token expiry, the issuer's cacheTtl).
 */
export class ExternalIssuers {
  private readonly byIssuer: Map<string, OidcIssuerConfig>;
  private readonly jwks = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
  private readonly introspected = new LRUCache<string, { identity: ExternalIdentity | null; until: number }>({
    max: 20_000,
  });

  constructor(
    private readonly configs: OidcIssuerConfig[],
    private readonly deps: { clock: Clock; env: NodeJS.ProcessEnv; redis?: RedisLink | undefined },
  ) {
    this.byIssuer = new Map(configs.map((c) => [c.issuer, c]));
  }

  get configured(): boolean {
    return this.configs.length > 0;
  }

  knows(issuer: string): boolean {
    return this.byIssuer.has(issuer);
  }

  private async jwksFor(config: OidcIssuerConfig) {
    let set = this.jwks.get(config.issuer);
    if (!set) {
      let uri = config.jwksUri;
      if (!uri) {
        const discovery = `${config.issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
        const res = await fetch(discovery);
        if (!res.ok) throw new ExternalTokenError(`cannot read ${discovery} (${res.status})`);
        uri = ((await res.json()) as { jwks_uri?: string }).jwks_uri;
        if (!uri) throw new ExternalTokenError(`${discovery} has no jwks_uri`);
      }
      set = createRemoteJWKSet(new URL(uri));
      this.jwks.set(config.issuer, set);
    }
    return set;
  }

  private identityFrom(config: OidcIssuerConfig, claims: JWTPayload & Record<string, unknown>): ExternalIdentity {
    // Introspection of a client-credentials token may name only the client (RFC 7662: `sub` is optional).
    const subject = claims.sub ?? (typeof claims.client_id === "string" ? claims.client_id : undefined);
    if (!subject) throw new ExternalTokenError("the token names no subject");
    const username = claims[config.usernameClaim];
    return {
      issuer: config.issuer,
      subject,
      username: typeof username === "string" && username.length > 0 ? username : subject,
      groups: claimList(claims[config.groupsClaim]),
      expiresAt: typeof claims.exp === "number" ? claims.exp * 1000 : null,
    };
  }

  async verifyJwt(token: string, issuer: string): Promise<ExternalIdentity> {
    const config = this.byIssuer.get(issuer);
    if (!config) throw new ExternalTokenError(`tokens from ${issuer} are not accepted here`);
    try {
      const { payload } = await jwtVerify(token, await this.jwksFor(config), {
        issuer: config.issuer,
        audience: config.audience,
        algorithms: EXTERNAL_ALGORITHMS,
        currentDate: new Date(this.deps.clock.now()),
      });
      return this.identityFrom(config, payload as JWTPayload & Record<string, unknown>);
    } catch (error) {
      if (error instanceof ExternalTokenError) throw error;
      const code = (error as { code?: string }).code;
      throw new ExternalTokenError(
        code === "ERR_JWT_EXPIRED" ? "the token has expired" : `${(error as Error).message}`,
        code === "ERR_JWT_EXPIRED",
      );
    }
  }

  /** Ask each issuer with introspection whether an opaque token is active; undefined if none knows it. */
  async introspect(token: string): Promise<ExternalIdentity | undefined> {
    const key = sha256Hex(token);
    const now = this.deps.clock.now();
    const local = this.introspected.get(key);
    if (local && local.until > now) return local.identity ?? undefined;
    const redisKey = `switchyard:auth:introspect:${key}`;
    const link = this.deps.redis;
    if (link) {
      // Without Redis this instance asks the provider itself.
      const shared = link.up ? await link.client.get(redisKey).catch(() => undefined) : undefined;
      if (shared === undefined) link.fellBack("introspection");
      if (shared) {
        const identity = JSON.parse(shared) as ExternalIdentity | null;
        this.introspected.set(key, { identity, until: now + 5000 });
        return identity ?? undefined;
      }
    }
    for (const config of this.configs) {
      if (!config.introspection) continue;
      const secret = this.deps.env[config.introspection.clientSecretEnv] ?? "";
      const res = await fetch(config.introspection.endpoint, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          authorization: `Basic ${Buffer.from(`${encodeURIComponent(config.introspection.clientId)}:${encodeURIComponent(secret)}`).toString("base64")}`,
        },
        body: new URLSearchParams({ token, token_type_hint: "access_token" }),
      });
      if (!res.ok)
        throw new ExternalTokenError(`introspection at ${config.introspection.endpoint} failed (${res.status})`);
      const claims = (await res.json()) as JWTPayload & Record<string, unknown> & { active?: boolean };
      if (!claims.active) continue;
      // Active is not enough: the token must have been issued by this issuer, for us. A token
      // without `aud` was minted for any client of the provider, and one without `iss` says nothing.
      const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
      if (claims.iss !== config.issuer || !audiences.includes(config.audience)) {
        await this.remember(key, redisKey, null, 5000, now);
        throw new ExternalTokenError(
          `the token is active at ${config.issuer} but not issued by it for audience '${config.audience}' (iss and aud must say so)`,
        );
      }
      const identity = this.identityFrom(config, claims);
      const ttl = Math.min(config.cacheTtl * 1000, (identity.expiresAt ?? Number.POSITIVE_INFINITY) - now);
      if (ttl > 0) await this.remember(key, redisKey, identity, ttl, now);
      return identity;
    }
    // Unknown or inactive everywhere: remember briefly so a retry storm does not hammer the IdP.
    await this.remember(key, redisKey, null, 5000, now);
    return undefined;
  }

  private async remember(key: string, redisKey: string, identity: ExternalIdentity | null, ttlMs: number, now: number) {
    this.introspected.set(key, { identity, until: now + ttlMs });
    const link = this.deps.redis;
    if (!link?.up) return;
    await link.client.set(redisKey, JSON.stringify(identity), "PX", Math.max(1, Math.floor(ttlMs))).catch(() => {});
  }
}
