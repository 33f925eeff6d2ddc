import { RedisLink, type RedisUse } from "@switchyard/auth";
import type { Logger } from "pino";
import { Counter, Gauge, type Registry } from "prom-client";
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

/**
 * Connect to Redis now, so a wrong REDIS_URL fails at start in one line naming the host. Once
 * started, losing Redis is not fatal: the link's users fall back to this instance's memory
 * (`switchyard_redis_up` 0, `switchyard_redis_fallbacks_total` counting) until it is back.
 */
export async function connectRedis(
  url: string,
  options: { logger?: Logger | undefined; registry?: Registry | undefined } = {},
): Promise<RedisLink> {
  const where = describeRedisUrl(url);
  let fallbacks: Counter<"use"> | undefined;
  if (options.registry) {
    fallbacks = new Counter({
      name: "switchyard_redis_fallbacks_total",
      help: "Uses of Redis that went on without it (Redis down or too slow), by use",
      labelNames: ["use"],
      registers: [options.registry],
    });
  }
  let link: RedisLink;
  try {
    link = await RedisLink.connect(url, {
      logger: options.logger?.child({ redis: where }),
      onFallback: (use: RedisUse) => fallbacks?.inc({ use }),
    });
  } catch (error) {
    const cause = error as NodeJS.ErrnoException;
    const reason =
      cause.code === "ECONNREFUSED" ? "connection refused (is Redis running there?)" : (cause.message ?? String(cause));
    throw new RedisConnectError(`cannot connect to Redis at ${where}: ${reason}`, { cause });
  }
  if (options.registry) {
    new Gauge({
      name: "switchyard_redis_up",
      help: "1 while Redis answers, 0 while limits and revocations fall back to this instance",
      registers: [options.registry],
      aggregator: "min",
      collect() {
        this.set(link.up ? 1 : 0);
      },
    });
  }
  return link;
}
