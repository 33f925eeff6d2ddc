import type { Redis } from "ioredis";
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";

/**
 * Failed sign-ins per username and per address. After `max` failures within `window` seconds
 * further attempts are refused (429, Retry-After) without even checking the password. A
 * success clears the user's counter. Shared across instances through Redis when configured.
 */
export class LoginThrottle {
  private readonly byUser: RateLimiterAbstract;
  private readonly byAddress: RateLimiterAbstract;

  constructor(settings: { max: number; window: number }, redis?: Redis) {
    const user = { points: settings.max, duration: settings.window, keyPrefix: "sy_login_user" };
    // An address (a lab's NAT, a login node) serves many users: allow it more.
    const address = { points: settings.max * 4, duration: settings.window, keyPrefix: "sy_login_addr" };
    this.byUser = redis ? new RateLimiterRedis({ ...user, storeClient: redis }) : new RateLimiterMemory(user);
    this.byAddress = redis ? new RateLimiterRedis({ ...address, storeClient: redis }) : new RateLimiterMemory(address);
  }

  /** Seconds to wait when blocked, or 0 when an attempt may proceed. */
  async blockedFor(username: string, address: string): Promise<number> {
    const [user, addr] = await Promise.all([this.byUser.get(username.toLowerCase()), this.byAddress.get(address)]);
    let wait = 0;
    for (const [res, limiter] of [
      [user, this.byUser],
      [addr, this.byAddress],
    ] as const) {
      if (res && res.consumedPoints >= limiter.points) wait = Math.max(wait, Math.ceil(res.msBeforeNext / 1000));
    }
    return wait;
  }

  async failed(username: string, address: string): Promise<void> {
    await Promise.all([
      this.byUser.penalty(username.toLowerCase(), 1).catch(ignoreLimit),
      this.byAddress.penalty(address, 1).catch(ignoreLimit),
    ]);
  }

  async succeeded(username: string): Promise<void> {
    await this.byUser.delete(username.toLowerCase());
  }
}

function ignoreLimit(error: unknown): void {
  if (!(error instanceof RateLimiterRes)) throw error;
}
