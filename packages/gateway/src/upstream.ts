import { Pool } from "undici";

/**
 * One keep-alive connection pool per model server (replica), created on first use and closed
 * after it has been idle for a while (the deployment is gone or quiet).
 */
export class Upstreams {
  private readonly pools = new Map<string, { pool: Pool; lastUsed: number }>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly options: { connectTimeoutMs: number; timeoutMs: number; connections?: number }) {
    this.timer = setInterval(() => this.prune(), 60_000);
    this.timer.unref();
  }

  pool(baseUrl: string): Pool {
    let entry = this.pools.get(baseUrl);
    if (!entry) {
      entry = {
        pool: new Pool(baseUrl, {
          connections: this.options.connections ?? 256,
          keepAliveTimeout: 60_000,
          keepAliveMaxTimeout: 600_000,
          headersTimeout: this.options.timeoutMs,
          bodyTimeout: this.options.timeoutMs,
          connect: { timeout: this.options.connectTimeoutMs },
        }),
        lastUsed: 0,
      };
      this.pools.set(baseUrl, entry);
    }
    entry.lastUsed = Date.now();
    return entry.pool;
  }

  private prune(): void {
    const cutoff = Date.now() - 10 * 60_000;
    for (const [url, entry] of this.pools) {
      if (entry.lastUsed < cutoff) {
        this.pools.delete(url);
        void entry.pool.close().catch(() => {});
      }
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.pools.values()].map((e) => e.pool.destroy().catch(() => {})));
    this.pools.clear();
  }
}
