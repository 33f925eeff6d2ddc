import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "pino";
import {
  type IRateLimiterOptions,
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
} from "rate-limiter-flexible";
import { clusterLimiter, isGatewayWorker } from "./cluster";

/** What fell back to this instance's memory (the `use` label of the fallback counter). */
export type RedisUse = "rate_limit" | "concurrency" | "login_throttle" | "revocation" | "introspection";

/** How long one Redis command may take before the request goes on without it (ms). */
export const REDIS_COMMAND_TIMEOUT_MS = 200;

/**
 * The client options every Redis connection of the request path uses. No offline queue: while
 * the connection is down a command fails at once instead of waiting for Redis to come back, and
 * a command on a connection that stopped answering fails after the command timeout. Nothing is
 * resent after a reconnect (a limiter that fell back to memory must not be charged twice).
 * Reconnection never gives up, at most a second apart.
 */
export const redisClientOptions: RedisOptions = {
  enableOfflineQueue: false,
  commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
  autoResendUnfulfilledCommands: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 2000,
  retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
};

/**
 * One Redis connection and whether it can be used now. The request path asks `up` before each
 * use and reports every fallback; the link logs once when Redis is lost and once when it is
 * back, and checks a connection that still looks open but stopped answering (a ping every
 * `checkMs`, and at once after a failed command), dropping it so that ioredis reconnects and
 * every user sees it down meanwhile.
 */
/** Pings missed in a row before a connection that looks open is taken for lost. */
const PING_FAILURES = 3;

export class RedisLink {
  private healthy = true;
  private reported = true;
  private checking = false;
  private failures = 0;
  private closed = false;
  private lastError: Error | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly listeners = new Set<(up: boolean) => void>();
  /** Fallbacks so far, by use. */
  readonly fallbacks = new Map<RedisUse, number>();

  constructor(
    readonly client: Redis,
    private readonly options: {
      logger?: Logger | undefined;
      /** Told of every fallback (the metrics counter). */
      onFallback?: ((use: RedisUse) => void) | undefined;
      checkMs?: number;
    } = {},
  ) {
    client.on("ready", () => {
      this.healthy = true;
      this.lastError = undefined;
      this.update();
    });
    for (const event of ["close", "reconnecting", "end"]) client.on(event, () => this.update());
    // ioredis reports connection errors as events (thrown without a listener); the warning is ours.
    client.on("error", (error) => {
      this.lastError = error;
    });
    this.timer = setInterval(() => void this.check(), options.checkMs ?? 1000);
    this.timer.unref();
  }

  /** Connect with the request path's options; rejects (and stops trying) when Redis does not answer. */
  static async connect(
    url: string,
    options: ConstructorParameters<typeof RedisLink>[1] & {
      /** Prepended to every key (tests: counters of one run never meet another run's). */
      keyPrefix?: string | undefined;
    } = {},
  ): Promise<RedisLink> {
    const { keyPrefix, ...linkOptions } = options;
    const client = new Redis(url, { ...redisClientOptions, lazyConnect: true, ...(keyPrefix ? { keyPrefix } : {}) });
    const link = new RedisLink(client, linkOptions);
    try {
      await link.client.connect();
      await link.client.ping();
    } catch (error) {
      link.closed = true;
      clearInterval(link.timer);
      link.client.disconnect();
      // The connection's own error (ECONNREFUSED, ...) says more than "Connection is closed".
      throw link.lastError ?? error;
    }
    return link;
  }

  /** Whether Redis can be used now: connected, and answering. */
  get up(): boolean {
    return this.healthy && this.client.status === "ready";
  }

  /** Be told when Redis is lost (false) or back (true). */
  onChange(listener: (up: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A use went on without Redis (it was down, or a command failed): counted, and the link checked. */
  fellBack(use: RedisUse): void {
    this.fallbacks.set(use, (this.fallbacks.get(use) ?? 0) + 1);
    this.options.onFallback?.(use);
    if (this.up) void this.check();
  }

  /**
   * Ping; a connection that misses `PING_FAILURES` pings in a row (a quarter second apart) is
   * dropped and reconnects. One missed ping is not enough: a busy event loop can make a reply
   * late while Redis is fine (a command that is late still falls back, for that request alone).
   */
  private async check(): Promise<void> {
    if (this.checking || this.closed || this.client.status !== "ready") return;
    this.checking = true;
    try {
      await this.client.ping();
      this.failures = 0;
    } catch (error) {
      this.failures++;
      if (this.failures < PING_FAILURES) {
        setTimeout(() => void this.check(), 250).unref();
      } else if (this.client.status === "ready") {
        this.failures = 0;
        this.healthy = false;
        this.lastError = error as Error;
        this.client.disconnect(true);
      }
    } finally {
      this.checking = false;
      this.update();
    }
  }

  private update(): void {
    const up = this.up;
    if (up === this.reported || this.closed) return;
    this.reported = up;
    const logger = this.options.logger;
    if (up) logger?.warn("Redis is reachable again: rate limits and revocations are shared through it again");
    else
      logger?.warn(
        { reason: this.lastError?.message ?? "connection closed" },
        "Redis is unreachable: rate and concurrency limits fall back to this instance's memory, cached credentials are re-checked in the database every second",
      );
    for (const listener of this.listeners) listener(up);
  }

  /** Stop checking and close the connection (no "unreachable" warning for that). */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.client.quit().catch(() => this.client.disconnect());
  }
}

/** A limiter in memory that reports each use as a fallback: the insurance of a Redis one. */
class FallbackLimiter extends RateLimiterMemory {
  constructor(
    options: IRateLimiterOptions,
    private readonly report: () => void,
  ) {
    super(options);
  }

  override consume(key: string | number, points?: number, options?: { [key: string]: unknown }) {
    this.report();
    return super.consume(key, points, options);
  }

  override penalty(key: string | number, points?: number, options?: { [key: string]: unknown }) {
    this.report();
    return super.penalty(key, points, options);
  }

  override reward(key: string | number, points?: number, options?: { [key: string]: unknown }) {
    this.report();
    return super.reward(key, points, options);
  }

  override delete(key: string | number, options?: { [key: string]: unknown }): Promise<boolean> {
    this.report();
    return super.delete(key, options);
  }
}

/**
 * A limiter in Redis when there is a link (shared by every instance), else in memory (in a
 * gateway worker of `serve --workers N`: the primary's memory, shared by its workers). With
 * Redis, a limiter of this process's memory takes over whenever Redis is down or a command
 * fails: the same limits, counted per process meanwhile.
 */
export function sharedLimiter(
  options: { points: number; duration: number; keyPrefix: string },
  link: RedisLink | undefined,
  use: RedisUse,
): RateLimiterAbstract {
  if (!link) return isGatewayWorker() ? clusterLimiter(options) : new RateLimiterMemory(options);
  return new RateLimiterRedis({
    ...options,
    storeClient: link.client,
    // Straight to the insurance while disconnected, not after a failed command.
    rejectIfRedisNotReady: true,
    insuranceLimiter: new FallbackLimiter(options, () => link.fellBack(use)),
  });
}
