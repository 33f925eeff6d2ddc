import type { PrismaClient } from "@switchyard/db";
import { normalizeUserCode, randomToken, sha256Hex, userCode } from "./crypto";
import { OAuthError } from "./oauth-error";

export interface DeviceCodeResponse {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

/** RFC 8628 device authorization: `sy login` shows a code, the user approves it at /device. */
export class DeviceFlow {
  constructor(
    private readonly db: PrismaClient,
    private readonly settings: { ttlMs: number; intervalSeconds: number },
  ) {}

  async start(input: {
    clientId: string;
    scope: string;
    verificationUri: string;
    now: number;
  }): Promise<DeviceCodeResponse> {
    const deviceCode = `syd_${randomToken(32)}`;
    let code = userCode();
    // A clash among live codes is very unlikely (34 bits); retry a few times if it happens.
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await this.db.deviceAuthorization.create({
          data: {
            id: `da_${randomToken(12)}`,
            deviceCodeHash: sha256Hex(deviceCode),
            userCode: code,
            clientId: input.clientId,
            scope: input.scope,
            interval: this.settings.intervalSeconds,
            createdAt: new Date(input.now),
            expiresAt: new Date(input.now + this.settings.ttlMs),
          },
        });
        break;
      } catch (error) {
        if (attempt === 4) throw error;
        await this.db.deviceAuthorization.deleteMany({
          where: { userCode: code, expiresAt: { lt: new Date(input.now) } },
        });
        code = userCode();
      }
    }
    return {
      device_code: deviceCode,
      user_code: code,
      verification_uri: input.verificationUri,
      verification_uri_complete: `${input.verificationUri}?user_code=${encodeURIComponent(code)}`,
      expires_in: Math.round(this.settings.ttlMs / 1000),
      interval: this.settings.intervalSeconds,
    };
  }

  /**
   * The client's poll. Answers with an OAuth error until the user decided; when approved,
   * returns the user and the time of the (interactive) approval, exactly once.
   */
  async poll(
    deviceCode: string,
    clientId: string,
    now: number,
  ): Promise<{ userId: string; scope: string; approvedAt: Date }> {
    const row = await this.db.deviceAuthorization.findUnique({ where: { deviceCodeHash: sha256Hex(deviceCode) } });
    if (!row || row.clientId !== clientId) throw new OAuthError("invalid_grant", "unknown device code");
    if (row.status === "consumed") throw new OAuthError("invalid_grant", "this device code was already used");
    if (row.expiresAt.getTime() <= now)
      throw new OAuthError("expired_token", "the device code expired; start 'sy login' again");
    if (row.status === "denied") throw new OAuthError("access_denied", "the user denied the request");
    if (row.status === "approved" && row.userId && row.decidedAt) {
      const claimed = await this.db.deviceAuthorization.updateMany({
        where: { id: row.id, status: "approved" },
        data: { status: "consumed" },
      });
      if (claimed.count !== 1) throw new OAuthError("invalid_grant", "this device code was already used");
      return { userId: row.userId, scope: row.scope, approvedAt: row.decidedAt };
    }
    const tooSoon = row.lastPolledAt !== null && now - row.lastPolledAt.getTime() < row.interval * 1000;
    await this.db.deviceAuthorization.update({
      where: { id: row.id },
      data: { lastPolledAt: new Date(now), ...(tooSoon ? { interval: row.interval + 5 } : {}) },
    });
    if (tooSoon) {
      throw new OAuthError("slow_down", `polling too fast; wait ${row.interval + 5} s between polls`);
    }
    throw new OAuthError("authorization_pending", "waiting for the user to approve the code");
  }

  /** What /device shows for a code, if it is live. */
  async lookup(code: string, now: number) {
    const row = await this.db.deviceAuthorization.findUnique({ where: { userCode: normalizeUserCode(code) } });
    if (!row || row.expiresAt.getTime() <= now || row.status !== "pending") return undefined;
    return row;
  }

  async decide(code: string, userId: string, approve: boolean, now: number): Promise<boolean> {
    const updated = await this.db.deviceAuthorization.updateMany({
      where: { userCode: normalizeUserCode(code), status: "pending", expiresAt: { gt: new Date(now) } },
      data: { status: approve ? "approved" : "denied", userId, decidedAt: new Date(now) },
    });
    return updated.count === 1;
  }
}
