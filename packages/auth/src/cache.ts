import type { Clock } from "@switchyard/core";
import type { Redis } from "ioredis";
import { LRUCache } from "lru-cache";
import type { Logger } from "pino";
import type { Principal } from "./principal";

const INVALIDATE_CHANNEL = "switchyard:auth:invalidate";

interface Entry {
  principal: Principal;
  /** Our clock's ms after which the entry must be re-checked. */
  until: number;
}

/**
 * Resolved credentials, so a request with a known token or key costs a map lookup. Entries
 * live at most `ttlMs` (a revocation takes effect within it on every instance) and never past
 * the credential's own expiry. With Redis, a revocation also reaches every instance at once.
 */
export class PrincipalCache {
  private readonly entries = new LRUCache<string, Entry>({ max: 50_000 });
  private subscriber: Redis | undefined;
  private readonly clearListeners = new Set<() => void>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs: number,
    private readonly redis?: Redis,
    private readonly logger?: Logger,
  ) {}

  async start(): Promise<void> {
    if (!this.redis) return;
    this.subscriber = this.redis.duplicate();
    this.subscriber.on("error", (error) => this.logger?.warn({ err: error }, "auth cache: Redis subscriber error"));
    await this.subscriber.subscribe(INVALIDATE_CHANNEL);
    this.subscriber.on("message", () => this.clear());
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
    if (this.clock.now() >= entry.until) {
      this.entries.delete(credential);
      return undefined;
    }
    return entry.principal;
  }

  set(credential: string, principal: Principal): void {
    const now = this.clock.now();
    const until = Math.min(now + this.ttlMs, principal.expiresAt ?? Number.POSITIVE_INFINITY);
    if (until > now) this.entries.set(credential, { principal, until });
  }

  /** Forget everything here and, through Redis, on every other instance. */
  async invalidateAll(): Promise<void> {
    this.clear();
    await this.redis?.publish(INVALIDATE_CHANNEL, String(this.clock.now()));
  }

  async stop(): Promise<void> {
    if (this.subscriber) await this.subscriber.quit().catch(() => {});
    this.subscriber = undefined;
  }
}
