import { apiError } from "@switchyard/core";
import type { PrismaClient, PrismaClientOrTransaction } from "@switchyard/db";
import { decodeJwt } from "jose";
import { apiKeyHash, isApiKey, type LastUsedTracker } from "./api-keys";
import { type ExternalIdentity, type ExternalIssuers, ExternalTokenError } from "./oidc";
import { ALL_SCOPES, type Principal } from "./principal";
import { REFRESH_PREFIX } from "./refresh-tokens";
import type { SigningKeys } from "./signing";
import { findUserView, validateUsername } from "./users";

/** The audience of access tokens this server issues. */
export const AUDIENCE = "switchyard";

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

export interface CredentialResolverDeps {
  db: PrismaClient;
  keys: SigningKeys;
  external: ExternalIssuers;
  lastUsed: LastUsedTracker;
  /** The `iss` of this server's own tokens. */
  issuer: () => string;
}

/**
 * Who a credential belongs to: an API key (looked up by hash), one of this server's access
 * tokens (signature, revocation, the user still enabled), or an external issuer's JWT or opaque
 * token (verified or introspected, the user provisioned on first use). Every failure is the
 * catalogue's 401 with a reason.
 */
export class CredentialResolver {
  constructor(private readonly deps: CredentialResolverDeps) {}

  /** The principal behind a credential (no cache: the service caches), or the catalogue's 401. */
  async resolve(credential: string, now: number): Promise<Principal> {
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
      if (issuer === this.deps.issuer()) return this.resolveOwnToken(credential, now);
      if (issuer && this.deps.external.knows(issuer)) {
        return this.principalFor(await this.externalIdentity(() => this.deps.external.verifyJwt(credential, issuer)));
      }
      throw apiError("invalid_token", {
        reason: `tokens issued by ${issuer ?? "an unnamed issuer"} are not accepted here`,
      });
    }
    if (this.deps.external.configured) {
      const identity = await this.externalIdentity(() => this.deps.external.introspect(credential));
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
    this.deps.lastUsed.touch(row.id, now);
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
      ({ payload } = await this.deps.keys.verify(token, { issuer: this.deps.issuer(), audience: AUDIENCE, now }));
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
