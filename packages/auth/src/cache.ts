import type { Clock } from "@switchyard/core";
import type { Redis } from "ioredis";
import { LRUCache } from "lru-cache";
import type { Logger } from "pino";
import { isGatewayWorker, type RevocationPeers, workerRevocations } from "./cluster";
import type { Principal } from "./principal";
import type { RedisLink } from "./redis-link";

const INVALIDATE_CHANNEL = "switchyard:auth:invalidate";

interface Entry {
  principal: Principal;
  /** Our clock's ms after which the entry must be re-checked. */
  until: number;
  /** When it was resolved (our clock's ms). */
  at: number;
}

/** How long a credential stays cached while revocations elsewhere cannot reach this instance (ms). */
export const UNSHARED_CACHE_TTL_MS = 1000;

/**
 * How long past its TTL an entry may still be served when it cannot be checked again because
 * the database does not answer (ms): a PostgreSQL restart does not turn known keys away, and a
 * revocation (which is written to the database first) is at most this late once it is back.
 */
export const DATABASE_DOWN_GRACE_MS = 60_000;

/**
 * Resolved credentials, so a request with a known token or key costs a map lookup. Entries
 * live at most `ttlMs` (a revocation takes effect within it on every instance) and never past
 * the credential's own expiry. With Redis, a revocation also reaches every instance at once;
 * without, it reaches every gateway worker of the same `serve --workers N` at once (through
 * their primary process).
 *
 * While Redis is unreachable (or this instance is not subscribed yet) a revocation elsewhere
 * cannot reach us, so an entry is trusted for at most `unsharedTtlMs` after it was resolved:
 * the database, which every revocation is written to first, is asked again after that. When
 * Redis is back the cache is emptied (a revocation may have been missed meanwhile) and entries
 * stay short-lived for one more `unsharedTtlMs`, while the subscription is renewed.
 */
export class PrincipalCache {
  private readonly entries = new LRUCache<string, Entry>({ max: 50_000 });
  private subscriber: Redis | undefined;
  private readonly clearListeners = new Set<() => void>();
  /** With Redis: entries are short-lived before this time (our clock's ms), see above. */
  private sharedFrom = Number.POSITIVE_INFINITY;
  private readonly unsharedTtlMs: number;
  private stopWatching: (() => void) | undefined;
  private subscribed = false;
  /** Without Redis, in a gateway worker of `serve --workers N`: the other workers, through the primary. */
  private readonly peers: RevocationPeers | undefined;
  private stopPeers: (() => void) | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs: number,
    private readonly redis?: RedisLink,
    private readonly logger?: Logger,
    unsharedTtlMs = UNSHARED_CACHE_TTL_MS,
    private readonly graceMs = DATABASE_DOWN_GRACE_MS,
  ) {
    this.unsharedTtlMs = Math.min(unsharedTtlMs, ttlMs);
    this.peers = !redis && isGatewayWorker() ? workerRevocations() : undefined;
  }

  async start(): Promise<void> {
    if (this.peers && !this.stopPeers) this.stopPeers = this.peers.subscribe(() => this.clear());
    if (!this.redis) return;
    const subscriber = this.redis.client.duplicate({ lazyConnect: true });
    this.subscriber = subscriber;
    // Connection errors show as the link's warning; the client reconnects and resubscribes itself.
    subscriber.on("error", () => {});
    subscriber.on("message", () => this.clear());
    subscriber.on("close", () => {
      this.subscribed = false;
    });
    subscriber.on("ready", () => {
      this.resync();
      // ioredis resubscribes by itself, but only to what it had subscribed before.
      subscriber.subscribe(INVALIDATE_CHANNEL).then(
        () => {
          this.subscribed = true;
        },
        () => {},
      );
    });
    this.stopWatching = this.redis.onChange((up) => {
      if (up) this.resync();
    });
    try {
      await subscriber.connect();
      await subscriber.subscribe(INVALIDATE_CHANNEL);
      this.subscribed = true;
      this.sharedFrom = this.clock.now();
    } catch (error) {
      this.logger?.warn({ err: error }, "auth cache: cannot subscribe to revocations in Redis yet");
    }
  }

  /** Back in touch with Redis: forget what a missed revocation may concern, and stay short-lived a moment. */
  private resync(): void {
    this.sharedFrom = this.clock.now() + this.unsharedTtlMs;
    this.clear();
  }

  /** Whether a revocation on another instance reaches this one now (always, without Redis: there is none). */
  private shared(now: number): boolean {
    if (!this.redis) return true;
    return this.redis.up && this.subscribed && this.subscriber?.status === "ready" && now >= this.sharedFrom;
  }

  /** Be told whenever cached credentials are dropped (a revocation here or, through Redis, elsewhere). */
  onClear(listener: () => void): () => void {
    this.clearListeners.add(listener);
    return () => this.clearListeners.delete(listener);
  }

  private clear(): void {
    this.entries.clear();
    for (const listener of this.clearListeners) listener();
  }

  get(credential: string): Principal | undefined {
    const entry = this.entries.get(credential);
    if (!entry) return undefined;
    const now = this.clock.now();
    // An expired entry stays (the LRU bounds them) for `stale()`, until it is past its grace.
    if (now >= entry.until || (now - entry.at >= this.unsharedTtlMs && !this.shared(now))) {
      if (now >= this.graceEnd(entry)) this.entries.delete(credential);
      return undefined;
    }
    return entry.principal;
  }

  /**
   * Whether a cached credential should be checked again now, before its entry ends: in the last
   * fifth of the entry's life (its answer still stands meanwhile).
   */
  refreshDue(credential: string): boolean {
    const entry = this.entries.get(credential);
    if (!entry) return false;
    return this.clock.now() >= entry.until - (entry.until - entry.at) / 5;
  }

  /** Drop one credential's entry (it was refused when checked again). */
  forget(credential: string): void {
    this.entries.delete(credential);
  }

  /**
   * For when the credential cannot be checked again (the database is unreachable): the last
   * principal resolved for it, if its TTL ended less than `DATABASE_DOWN_GRACE_MS` ago and the
   * credential itself has not expired. Never after a revocation reached this instance (that
   * empties the cache).
   */
  stale(credential: string): Principal | undefined {
    const entry = this.entries.get(credential);
    if (!entry) return undefined;
    return this.clock.now() < this.graceEnd(entry) ? entry.principal : undefined;
  }

  private graceEnd(entry: Entry): number {
    return Math.min(entry.until + this.graceMs, entry.principal.expiresAt ?? Number.POSITIVE_INFINITY);
  }

  set(credential: string, principal: Principal): void {
    const now = this.clock.now();
    const ttl = this.shared(now) ? this.ttlMs : this.unsharedTtlMs;
    const until = Math.min(now + ttl, principal.expiresAt ?? Number.POSITIVE_INFINITY);
    if (until > now) this.entries.set(credential, { principal, until, at: now });
  }

  /**
   * Forget everything here and, through Redis, on every other instance. Without Redis the
   * others see the change within `unsharedTtlMs`, from the database.
   */
  async invalidateAll(): Promise<void> {
    this.clear();
    this.peers?.publish();
    const link = this.redis;
    if (!link) return;
    const sent = link.up
      ? await link.client.publish(INVALIDATE_CHANNEL, String(this.clock.now())).then(
          () => true,
          () => false,
        )
      : false;
    if (!sent) link.fellBack("revocation");
  }

  async stop(): Promise<void> {
    this.stopWatching?.();
    this.stopPeers?.();
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    if (subscriber) await subscriber.quit().catch(() => subscriber.disconnect());
  }
}
