import { Redis } from "ioredis";
import { RedisConnectError } from "./errors";

/** `redis://:secret@cache:6379/0` -> `cache:6379`. */
export function describeRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname || "localhost"}:${parsed.port || "6379"}`;
  } catch {
    return "(unparseable REDIS_URL)";
  }
}

/** Connect to Redis now, so a wrong REDIS_URL fails at start in one line naming the host. */
export async function connectRedis(url: string): Promise<Redis> {
  const where = describeRedisUrl(url);
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    connectTimeout: 5000,
    enableOfflineQueue: true,
  });
  let lastError: unknown;
  redis.on("error", (error) => {
    lastError = error;
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    const cause = (lastError ?? error) as NodeJS.ErrnoException;
    const reason =
      cause.code === "ECONNREFUSED" ? "connection refused (is Redis running there?)" : (cause.message ?? String(cause));
    throw new RedisConnectError(`cannot connect to Redis at ${where}: ${reason}`, { cause });
  }
  return redis;
}
