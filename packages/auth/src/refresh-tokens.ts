import type { PrismaClient } from "@switchyard/db";
import { randomToken, sha256Hex } from "./crypto";
import { OAuthError } from "./oauth-error";

export const REFRESH_PREFIX = "syr_";

export interface RefreshGrant {
  userId: string;
  clientId: string;
  scope: string;
  /** The interactive login this session started from. */
  authTime: Date;
}

/**
 * Opaque refresh tokens, stored hashed, rotated on every use. All tokens descending from one
 * interactive login share a family and its absolute deadline (authTime + lifetime).
 */
export class RefreshTokens {
  constructor(
    private readonly db: PrismaClient,
    private readonly lifetimeMs: number,
  ) {}

  async issue(grant: RefreshGrant, now: number, familyId = `rtf_${randomToken(12)}`): Promise<string> {
    const token = `${REFRESH_PREFIX}${randomToken(32)}`;
    await this.db.refreshToken.create({
      data: {
        id: `rt_${randomToken(12)}`,
        userId: grant.userId,
        familyId,
        tokenHash: sha256Hex(token),
        clientId: grant.clientId,
        scope: grant.scope,
        authTime: grant.authTime,
        createdAt: new Date(now),
        expiresAt: new Date(grant.authTime.getTime() + this.lifetimeMs),
      },
    });
    return token;
  }

  /**
   * Trade a refresh token for a new one. A token presented a second time means it leaked (or a
   * client misbehaves): the whole family is revoked and the user must log in again.
   */
  async rotate(token: string, now: number): Promise<{ grant: RefreshGrant; refreshToken: string }> {
    const row = await this.db.refreshToken.findUnique({
      where: { tokenHash: sha256Hex(token) },
      include: { user: true },
    });
    if (!row) throw new OAuthError("invalid_grant", "unknown refresh token");
    if (row.revokedAt)
      throw new OAuthError("invalid_grant", "the refresh token was revoked; log in again with 'sy login'");
    if (row.usedAt) {
      await this.revokeFamily(row.familyId, now);
      throw new OAuthError(
        "invalid_grant",
        "this refresh token was already used, so the session was revoked to be safe; log in again with 'sy login'",
      );
    }
    if (row.expiresAt.getTime() <= now) {
      throw new OAuthError(
        "invalid_grant",
        `login required: refresh tokens stop working ${Math.round(this.lifetimeMs / 86_400_000)} days after the last interactive login (${row.authTime.toISOString()}); run 'sy login'`,
      );
    }
    if (row.user.disabled) throw new OAuthError("invalid_grant", "the account is disabled");
    // Only one of two concurrent presentations may win.
    const claimed = await this.db.refreshToken.updateMany({
      where: { id: row.id, usedAt: null },
      data: { usedAt: new Date(now) },
    });
    if (claimed.count !== 1) {
      await this.revokeFamily(row.familyId, now);
      throw new OAuthError(
        "invalid_grant",
        "this refresh token was already used; the session was revoked, log in again",
      );
    }
    const grant = { userId: row.userId, clientId: row.clientId, scope: row.scope, authTime: row.authTime };
    const refreshToken = await this.issue(grant, now, row.familyId);
    // A concurrent replay may have revoked the family just before the new token was stored.
    if ((await this.db.refreshToken.count({ where: { familyId: row.familyId, revokedAt: { not: null } } })) > 0) {
      await this.revokeFamily(row.familyId, now);
      throw new OAuthError(
        "invalid_grant",
        "this refresh token was used twice at once; the session was revoked, log in again",
      );
    }
    return { grant, refreshToken };
  }

  async revokeFamily(familyId: string, now: number): Promise<void> {
    await this.db.refreshToken.updateMany({ where: { familyId, revokedAt: null }, data: { revokedAt: new Date(now) } });
  }

  /** RFC 7009: revoke the session a refresh token belongs to. Unknown tokens are not an error. */
  async revoke(token: string, now: number): Promise<boolean> {
    const row = await this.db.refreshToken.findUnique({ where: { tokenHash: sha256Hex(token) } });
    if (!row) return false;
    await this.revokeFamily(row.familyId, now);
    return true;
  }
}
