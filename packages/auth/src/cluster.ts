import cluster, { type Worker } from "node:cluster";
import { type IRateLimiterOptions, RateLimiterCluster, RateLimiterClusterMaster } from "rate-limiter-flexible";

/**
 * State the gateway workers of one `serve --workers N` share without Redis, kept by their
 * primary process and reached over node:cluster's IPC channel: rate limits (rate-limiter-flexible's
 * cluster limiter, counted in the primary), revocations (a worker that drops its cached
 * credentials tells the primary, which tells every other worker), and requests in flight per
 * user. With Redis the workers share all of it through Redis instead, like separate instances.
 */

const INVALIDATE = "switchyard:auth:invalidate";
const SLOT = "switchyard:slots";

interface Message {
  channel?: unknown;
}

/** Whether this process is a gateway worker of `serve --workers N` (its primary keeps the shared state). */
export function isGatewayWorker(): boolean {
  return cluster.isWorker;
}

/** A rate limiter counted in the primary process, for a gateway worker without Redis. */
export function clusterLimiter(options: IRateLimiterOptions & { keyPrefix: string }) {
  // A limiter that never hears from the primary fails its requests (a 500), after 2 s rather than 5.
  return new RateLimiterCluster({ ...options, timeoutMs: 2000 });
}

/** Told when a credential was revoked (or a user changed) on another worker of this serve. */
export interface RevocationPeers {
  publish(): void;
  subscribe(listener: () => void): () => void;
}

/** The worker's side of revocations: through the primary to every other worker. */
export function workerRevocations(): RevocationPeers {
  return {
    publish() {
      process.send?.({ channel: INVALIDATE });
    },
    subscribe(listener) {
      const onMessage = (message: Message) => {
        if (message?.channel === INVALIDATE) listener();
      };
      process.on("message", onMessage);
      return () => process.off("message", onMessage);
    },
  };
}

/**
 * Requests in flight per user, counted in the primary: `enter` resolves with a lease, or with
 * undefined when the user already has `limit` (the caller answers 429).
 */
export class ClusterSlots {
  private sequence = 0;
  private readonly waiting = new Map<number, (taken: boolean) => void>();
  private readonly onMessage = (message: Message & { id?: number; taken?: boolean }) => {
    if (message?.channel !== SLOT || message.id === undefined) return;
    const resolve = this.waiting.get(message.id);
    this.waiting.delete(message.id);
    resolve?.(message.taken === true);
  };

  constructor() {
    process.on("message", this.onMessage);
  }

  async enter(userId: string, limit: number): Promise<string | undefined> {
    const id = ++this.sequence;
    const lease = `${process.pid}:${id}`;
    const taken = await new Promise<boolean>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error("the primary process did not answer for a concurrency slot"));
      }, 2000);
      this.waiting.set(id, (value) => {
        clearTimeout(timer);
        resolve(value);
      });
      process.send?.({ channel: SLOT, op: "enter", id, userId, limit, lease });
    });
    return taken ? lease : undefined;
  }

  leave(userId: string, lease: string): void {
    process.send?.({ channel: SLOT, op: "leave", userId, lease });
  }

  close(): void {
    process.off("message", this.onMessage);
  }
}

/**
 * The primary's side: counts the workers' rate limits, relays revocations, and holds the slots
 * of requests in flight (a worker that dies gives its slots back). Call once, before forking.
 */
export function servePrimarySharedState(): void {
  new RateLimiterClusterMaster();
  /** Leases per user, and which worker holds each (to free them when it dies). */
  const slots = new Map<string, Map<string, number>>();
  cluster.on("message", (worker: Worker, message: Message & Record<string, unknown>) => {
    if (message?.channel === INVALIDATE) {
      for (const other of Object.values(cluster.workers ?? {})) {
        if (other && other !== worker && other.isConnected()) other.send({ channel: INVALIDATE });
      }
    } else if (message?.channel === SLOT) {
      const userId = String(message.userId);
      const lease = String(message.lease);
      let held = slots.get(userId);
      if (message.op === "enter") {
        const taken = (held?.size ?? 0) < Number(message.limit);
        if (taken) {
          if (!held) slots.set(userId, (held = new Map()));
          held.set(lease, worker.id);
        }
        if (worker.isConnected()) worker.send({ channel: SLOT, id: message.id, taken });
      } else if (message.op === "leave" && held) {
        held.delete(lease);
        if (held.size === 0) slots.delete(userId);
      }
    }
  });
  cluster.on("exit", (worker) => {
    for (const [userId, held] of slots) {
      for (const [lease, holder] of held) if (holder === worker.id) held.delete(lease);
      if (held.size === 0) slots.delete(userId);
    }
  });
}
