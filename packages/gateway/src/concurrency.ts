import { randomUUID } from "node:crypto";
import type { RedisLink } from "@switchyard/auth";
import { apiError } from "@switchyard/core";
import type { Redis } from "ioredis";

/**
 * Takes a slot if the user has fewer than ARGV[2] live leases: expired leases (an instance
 * that died holding them) are dropped first. Scores are lease expiry times (ms).
 */
const TAKE_SLOT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[3]), ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

type SlotRedis = Redis & {
  switchyardTakeSlot(key: string, now: number, limit: number, leaseMs: number, lease: string): Promise<number>;
};

/**
 * Inference requests each user has in flight, capped (429 beyond). In memory, a count per user;
 * with Redis, a sorted set of leases per user shared by every instance, each lease renewed while
 * its request runs and expiring on its own if the instance holding it dies. While Redis is down
 * (or a command fails), the slot is taken in this instance's memory instead, with the same cap.
 */
export class InFlightRequests {
  /** Slots taken in memory, per user. */
  private readonly counts = new Map<string, number>();
  /** Memory leases not given back yet. */
  private readonly local = new Set<string>();
  /** Redis leases this instance holds: lease -> key. */
  private readonly leases = new Map<string, string>();
  /** Redis leases given back while Redis was unreachable: removed when it is back. */
  private readonly orphans = new Map<string, string>();
  private stopWatching: (() => void) | undefined;
  private readonly instance = randomUUID();
  private sequence = 0;
  private renewal: NodeJS.Timeout | undefined;
  private readonly redis: SlotRedis | undefined;

  constructor(
    private readonly link?: RedisLink,
    private readonly leaseMs = 5 * 60_000,
    private readonly clock: { now(): number } = Date,
  ) {
    if (link) {
      const redis = link.client;
      if (!("switchyardTakeSlot" in redis))
        redis.defineCommand("switchyardTakeSlot", { numberOfKeys: 1, lua: TAKE_SLOT });
      this.redis = redis as SlotRedis;
      this.stopWatching = link.onChange((up) => {
        if (up) for (const [lease, key] of this.orphans) this.release(key, lease);
      });
    }
  }

  /** Take one of the user's `limit` slots, or throw 429; the lease is what `leave` gives back. */
  enter(userId: string, limit: number): string | Promise<string> {
    if (this.redis && this.link?.up) return this.enterShared(this.redis, userId, limit);
    this.link?.fellBack("concurrency");
    return this.enterLocal(userId, limit);
  }

  private enterLocal(userId: string, limit: number): string {
    const count = this.counts.get(userId) ?? 0;
    if (count >= limit) throw refused(limit);
    this.counts.set(userId, count + 1);
    const lease = `${userId}\n${++this.sequence}`;
    this.local.add(lease);
    return lease;
  }

  private async enterShared(redis: SlotRedis, userId: string, limit: number): Promise<string> {
    const key = `sy_inflight:u:${userId}`;
    const lease = `${this.instance}:${++this.sequence}`;
    let taken: number;
    try {
      taken = await redis.switchyardTakeSlot(key, this.clock.now(), limit, this.leaseMs, lease);
    } catch {
      // Slow rather than gone: a slot taken after all must not stay held for a whole lease.
      void redis.zrem(key, lease).catch(() => {});
      this.link?.fellBack("concurrency");
      return this.enterLocal(userId, limit);
    }
    if (taken !== 1) throw refused(limit);
    this.leases.set(lease, key);
    if (!this.renewal) {
      this.renewal = setInterval(() => this.renew(), Math.max(1000, Math.floor(this.leaseMs / 3)));
      this.renewal.unref();
    }
    return lease;
  }

  /** Give a slot back (once per `enter`). */
  leave(userId: string, lease: string): void {
    if (this.local.delete(lease)) {
      const count = this.counts.get(userId) ?? 0;
      if (count <= 1) this.counts.delete(userId);
      else this.counts.set(userId, count - 1);
      return;
    }
    const key = this.leases.get(lease);
    if (key === undefined) return;
    this.leases.delete(lease);
    this.release(key, lease);
  }

  private release(key: string, lease: string): void {
    this.orphans.delete(lease);
    void this.redis?.zrem(key, lease).catch(() => {
      this.orphans.set(lease, key);
    });
  }

  /** Requests a user has in flight on this instance (in memory and leases it holds in Redis). */
  inFlight(userId: string): number {
    let held = this.counts.get(userId) ?? 0;
    if (this.leases.size === 0) return held;
    const key = `sy_inflight:u:${userId}`;
    for (const k of this.leases.values()) if (k === key) held++;
    return held;
  }

  private renew(): void {
    if (!this.redis || this.leases.size === 0 || !this.link?.up) return;
    const expires = this.clock.now() + this.leaseMs;
    const batch = this.redis.pipeline();
    for (const [lease, key] of this.leases) {
      batch.zadd(key, "XX", expires, lease);
      batch.pexpire(key, this.leaseMs);
    }
    void batch.exec().catch(() => {});
  }

  close(): void {
    this.stopWatching?.();
    if (this.renewal) clearInterval(this.renewal);
    this.renewal = undefined;
  }
}

function refused(limit: number) {
  return apiError("too_many_concurrent_requests", { limit }, { retryAfter: 1 });
}
