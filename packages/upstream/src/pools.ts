import { Pool } from "undici";

export interface UpstreamsOptions {
  /** Connections per model server. */
  connections: number;
  connectTimeoutMs: number;
  /** Headers and body timeout of every request (a request may set its own); undici's default when absent. */
  timeoutMs?: number | undefined;
  /** How long an unused keep-alive connection stays open. */
  keepAliveTimeoutMs?: number | undefined;
  /** A pool unused this long is closed (the deployment is gone or quiet). */
  idleMs?: number | undefined;
  /** How often idle pools are looked for; 0 starts no timer (tests call `prune()`). */
  pruneEveryMs?: number | undefined;
  /** Milliseconds since the epoch (tests pass a manual clock's). */
  now?: (() => number) | undefined;
}

const IDLE_MS = 10 * 60_000;
const PRUNE_EVERY_MS = 60_000;

/**
 * One keep-alive connection pool per model server (replica, by base URL), created on first use
 * and closed once it has been idle for `idleMs`.
 */
export class Upstreams {
  private readonly pools = new Map<string, { pool: Pool; lastUsed: number }>();
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly options: UpstreamsOptions) {
    this.now = options.now ?? Date.now;
    const every = options.pruneEveryMs ?? PRUNE_EVERY_MS;
    if (every > 0) {
      this.timer = setInterval(() => this.prune(), every);
      this.timer.unref();
    }
  }

  pool(baseUrl: string): Pool {
    let entry = this.pools.get(baseUrl);
    if (!entry) {
      const { options } = this;
      entry = {
        pool: new Pool(baseUrl, {
          connections: options.connections,
          keepAliveTimeout: options.keepAliveTimeoutMs ?? 60_000,
          keepAliveMaxTimeout: 600_000,
          ...(options.timeoutMs !== undefined
            ? { headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs }
            : {}),
          connect: { timeout: options.connectTimeoutMs },
        }),
        lastUsed: 0,
      };
      this.pools.set(baseUrl, entry);
    }
    entry.lastUsed = this.now();
    return entry.pool;
  }

  /** Base URLs with an open pool. */
  get size(): number {
    return this.pools.size;
  }

  /** Close the pools unused for `idleMs` (their requests in flight, if any, finish first). */
  prune(): void {
    const cutoff = this.now() - (this.options.idleMs ?? IDLE_MS);
    for (const [url, entry] of this.pools) {
      if (entry.lastUsed < cutoff) {
        this.pools.delete(url);
        void entry.pool.close().catch(() => {});
      }
    }
  }

  /** Stop pruning and destroy every pool (requests still running fail). */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((e) => e.pool.destroy().catch(() => {})));
  }
}
