import { type Clock, Periodic } from "@switchyard/core";
import type { PrismaClientOrTransaction } from "@switchyard/db";
import type { Logger } from "pino";

/** Refresh tokens outlive their session by a day, so a late refresh still hears "login required". */
export const REFRESH_TOKEN_GRACE_MS = 24 * 3_600_000;

export interface CleanupReport {
  deviceAuthorizations: number;
  refreshTokens: number;
  revokedTokens: number;
}

/**
 * Deletes auth rows nobody can use any more: expired device codes (anyone can create them),
 * refresh tokens of ended sessions, and revoked-token entries whose tokens expired anyway.
 * Each step is one idempotent DELETE by expiry, so several instances may run it at once.
 */
export class ExpiredRowCleanup {
  private readonly timer: Periodic;

  constructor(
    private readonly db: PrismaClientOrTransaction,
    private readonly clock: Clock,
    private readonly logger: Logger,
    intervalMs: number,
  ) {
    this.timer = new Periodic(
      intervalMs,
      () => this.run(),
      (error) => this.logger.warn({ err: error }, "auth: deleting expired rows failed"),
    );
  }

  async run(): Promise<CleanupReport> {
    const now = this.clock.now();
    const [deviceAuthorizations, revokedTokens, refreshTokens] = await Promise.all([
      this.db.deviceAuthorization.deleteMany({ where: { expiresAt: { lt: new Date(now) } } }),
      this.db.revokedToken.deleteMany({ where: { expiresAt: { lt: new Date(now) } } }),
      this.db.refreshToken.deleteMany({ where: { expiresAt: { lt: new Date(now - REFRESH_TOKEN_GRACE_MS) } } }),
    ]);
    const report = {
      deviceAuthorizations: deviceAuthorizations.count,
      refreshTokens: refreshTokens.count,
      revokedTokens: revokedTokens.count,
    };
    if (report.deviceAuthorizations + report.refreshTokens + report.revokedTokens > 0) {
      this.logger.info(report, "auth: deleted expired rows");
    }
    return report;
  }

  start(): void {
    this.timer.start();
  }

  stop(): Promise<void> {
    return this.timer.stop();
  }
}
