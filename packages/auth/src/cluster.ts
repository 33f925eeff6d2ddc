import cluster, { type Worker } from "node:cluster";
import { type IRateLimiterOptions, RateLimiterCluster, RateLimiterClusterMaster } from "rate-limiter-flexible";

/**
 * State the gateway workers of one `serve --workers N` share without Redis, kept by their
 * primary process and reached over node:cluster's IPC channel: the login throttles
 * (rate-limiter-flexible's cluster limiter, counted in the primary) and revocations (a worker
 * that drops its cached credentials tells the primary, which tells every other worker). The
 * gateway's request and token limits go the same way, batched (@switchyard/gateway's
 * limits-cluster.ts). With Redis the workers share all of it through Redis instead, like
 * separate instances.
 */

const INVALIDATE = "switchyard:auth:invalidate";

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
 * The primary's side: counts the workers' login throttles, relays revocations. Call once, before
 * forking. (The gateway's own limits are kept by its `serveClusterLimits`.)
 */
export function servePrimarySharedState(): void {
  new RateLimiterClusterMaster();
  cluster.on("message", (worker: Worker, message: Message) => {
    if (message?.channel !== INVALIDATE) return;
    for (const other of Object.values(cluster.workers ?? {})) {
      if (other && other !== worker && other.isConnected()) other.send({ channel: INVALIDATE });
    }
  });
}
