import { type RateLimiterAbstract, RateLimiterRes } from "rate-limiter-flexible";
import { type RedisLink, sharedLimiter } from "./redis-link";

export type SignInAttempt =
  | { allowed: true /** Call with the outcome once the password was checked. */; settle(ok: boolean): Promise<void> }
  | { allowed: false; retryAfter: number };

function limiter(options: { points: number; duration: number; keyPrefix: string }, redis?: RedisLink) {
  return sharedLimiter(options, redis, "login_throttle");
}

/** Take a point from every limiter, or from none: seconds to wait when any is exhausted, else 0. */
async function consumeAll(limiters: [RateLimiterAbstract, string][]): Promise<number> {
  const results = await Promise.allSettled(limiters.map(([l, key]) => l.consume(key, 1)));
  let wait = 0;
  for (const result of results) {
    if (result.status === "fulfilled") continue;
    if (!(result.reason instanceof RateLimiterRes)) throw result.reason;
    wait = Math.max(wait, Math.ceil(result.reason.msBeforeNext / 1000), 1);
  }
  if (wait > 0) {
    // A refused attempt checks nothing, so it costs nothing on the counters it did not exhaust.
    await Promise.all(
      limiters.flatMap(([l, key], i) => (results[i]?.status === "fulfilled" ? [l.reward(key, 1)] : [])),
    );
  }
  return wait;
}

/**
 * Sign-in attempts per user at an address, and per address over all users. An attempt is
 * counted *before* the password is checked (so concurrent guesses cannot slip past the count)
 * and given back when the password was right. Keying the lockout on user and address means a
 * stranger's wrong guesses lock only the stranger's address out of that account, never the
 * account's owner signing in from elsewhere. Shared across instances through Redis when configured
 * (per instance, in memory, while Redis is down).
 */
export class LoginThrottle {
  private readonly byUserAtAddress: RateLimiterAbstract;
  private readonly byAddress: RateLimiterAbstract;

  constructor(settings: { max: number; window: number }, redis?: RedisLink) {
    this.byUserAtAddress = limiter(
      { points: settings.max, duration: settings.window, keyPrefix: "sy_login_user_addr" },
      redis,
    );
    // An address (a lab's NAT, a login node) serves many users: allow it more.
    this.byAddress = limiter(
      { points: settings.max * 4, duration: settings.window, keyPrefix: "sy_login_addr" },
      redis,
    );
  }

  /** Take one attempt for this user at this address, or say how long to wait. */
  async attempt(username: string, address: string): Promise<SignInAttempt> {
    const userKey = `${username.toLowerCase()}\n${address}`;
    const wait = await consumeAll([
      [this.byUserAtAddress, userKey],
      [this.byAddress, address],
    ]);
    if (wait > 0) return { allowed: false, retryAfter: wait };
    return {
      allowed: true,
      settle: async (ok) => {
        if (!ok) return;
        await Promise.all([this.byUserAtAddress.delete(userKey), this.byAddress.reward(address, 1)]);
      },
    };
  }
}

/** Device logins started per address: each one is a database row until it expires. */
export class DeviceLoginLimit {
  private readonly byAddress: RateLimiterAbstract;

  constructor(settings: { max: number; window: number }, redis?: RedisLink) {
    this.byAddress = limiter({ points: settings.max, duration: settings.window, keyPrefix: "sy_device_addr" }, redis);
  }

  /** Seconds to wait, or 0 when this address may start another device login. */
  async take(address: string): Promise<number> {
    return consumeAll([[this.byAddress, address]]);
  }
}
