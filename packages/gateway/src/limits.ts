import { type RedisLink, sharedLimiter } from "@switchyard/auth";
import type { GatewaySettings, LimitConfig, UserLimitConfig } from "@switchyard/core";
import { apiError } from "@switchyard/core";
import { type RateLimiterAbstract, RateLimiterRes } from "rate-limiter-flexible";
import { InFlightRequests } from "./concurrency";

/** Tokens taken from one budget (the user's or the model's) for one request. */
interface TokenHold {
  limiter: RateLimiterAbstract;
  key: string;
  points: number;
  /** When the window the points were taken from ends (ms since epoch): no refund into a later one. */
  windowEndsAt: number;
}

/** What a request was charged, to settle with the real token count afterwards. */
export interface Charge {
  /** Each budget's part (the estimate, capped at the budget's limit). */
  holds: TokenHold[];
  /** OpenAI's `x-ratelimit-*` headers for the caller. */
  headers: Record<string, string>;
  /** In a gateway worker of `serve --workers N`: the primary's name for the holds it keeps. */
  ref?: number;
}

/** What the gateway asks of its limits: in this process (`RateLimits`), or in its primary (`ClusterRateLimits`). */
export interface Limits {
  enter(user: { id: string; groups: readonly string[] }): string | Promise<string | undefined> | undefined;
  leave(user: { id: string }, lease: string | undefined): void;
  inFlightOf(userId: string): number;
  charge(user: { id: string; groups: readonly string[] }, model: string, estimate: number): Promise<Charge>;
  settle(charge: Charge, actualTokens: number): Promise<void>;
  close(): void;
}

function reset(res: RateLimiterRes): string {
  return `${Math.max(0, Math.ceil(res.msBeforeNext / 1000))}s`;
}

/**
 * Requests and tokens per minute, per user and per model (defaults, per-model and per-group
 * overrides from config), and requests in flight per user. Tokens are charged up front with the
 * request's worst case (see `tokenEstimate`) and settled with the real count once the response
 * says it. In memory, or in Redis when configured so every instance shares the counts; while Redis
 * is down, each instance counts in its own memory with the same limits (see `sharedLimiter`).
 */
export class RateLimits implements Limits {
  private readonly limiters = new Map<string, RateLimiterAbstract>();
  /** A user's limits by their groups list (the same array while the principal is cached). */
  private readonly userLimits = new WeakMap<readonly string[], UserLimitConfig>();
  private readonly inFlight: InFlightRequests;

  constructor(
    private readonly settings: GatewaySettings["limits"],
    private readonly redis?: RedisLink,
  ) {
    this.inFlight = new InFlightRequests(redis);
  }

  /** Count a request as in flight for the user, or throw 429 when they have too many; `leave` ends it. */
  enter(user: { id: string; groups: readonly string[] }): string | Promise<string> | undefined {
    const limit = this.userLimit(user.groups).concurrentRequests;
    return limit === undefined ? undefined : this.inFlight.enter(user.id, limit);
  }

  leave(user: { id: string }, lease: string | undefined): void {
    if (lease !== undefined) this.inFlight.leave(user.id, lease);
  }

  /** The user's requests in flight as this instance counts them. */
  inFlightOf(userId: string): number {
    return this.inFlight.inFlight(userId);
  }

  close(): void {
    this.inFlight.close();
  }

  private limiter(kind: string, points: number): RateLimiterAbstract {
    const key = `${kind}:${points}`;
    let limiter = this.limiters.get(key);
    if (!limiter) {
      const options = { points, duration: 60, keyPrefix: `sy_${kind}_${points}` };
      limiter = sharedLimiter(options, this.redis, "rate_limit");
      this.limiters.set(key, limiter);
    }
    return limiter;
  }

  private userLimit(groups: readonly string[]): UserLimitConfig {
    let limit = this.userLimits.get(groups);
    if (limit) return limit;
    let requests = this.settings.user.requestsPerMinute;
    let tokens = this.settings.user.tokensPerMinute;
    let concurrent = this.settings.user.concurrentRequests;
    for (const group of groups) {
      const override = this.settings.groups[group];
      if (!override) continue;
      if (override.requestsPerMinute !== undefined) requests = Math.max(requests ?? 0, override.requestsPerMinute);
      if (override.tokensPerMinute !== undefined) tokens = Math.max(tokens ?? 0, override.tokensPerMinute);
      if (override.concurrentRequests !== undefined) concurrent = Math.max(concurrent, override.concurrentRequests);
    }
    limit = { requestsPerMinute: requests, tokensPerMinute: tokens, concurrentRequests: concurrent };
    this.userLimits.set(groups, limit);
    return limit;
  }

  private modelLimit(model: string): LimitConfig {
    return { ...this.settings.model, ...this.settings.models[model] };
  }

  /** Count the request against every limit, or throw 429 with Retry-After and the headers. */
  async charge(user: { id: string; groups: readonly string[] }, model: string, estimate: number): Promise<Charge> {
    const userLimit = this.userLimit(user.groups);
    const modelLimit = this.modelLimit(model);
    const headers: Record<string, string> = {};
    const steps: {
      limiter: RateLimiterAbstract;
      key: string;
      points: number;
      scope: string;
      kind: "requests" | "tokens";
      limit: number;
      mine: boolean;
    }[] = [];
    if (userLimit.requestsPerMinute) {
      steps.push({
        limiter: this.limiter("rpm", userLimit.requestsPerMinute),
        key: `u:${user.id}`,
        points: 1,
        scope: "your account",
        kind: "requests",
        limit: userLimit.requestsPerMinute,
        mine: true,
      });
    }
    if (modelLimit.requestsPerMinute) {
      steps.push({
        limiter: this.limiter("rpm", modelLimit.requestsPerMinute),
        key: `m:${model}`,
        points: 1,
        scope: `model ${model}`,
        kind: "requests",
        limit: modelLimit.requestsPerMinute,
        mine: false,
      });
    }
    if (userLimit.tokensPerMinute) {
      steps.push({
        limiter: this.limiter("tpm", userLimit.tokensPerMinute),
        key: `u:${user.id}`,
        points: Math.min(estimate, userLimit.tokensPerMinute),
        scope: "your account",
        kind: "tokens",
        limit: userLimit.tokensPerMinute,
        mine: true,
      });
    }
    if (modelLimit.tokensPerMinute) {
      steps.push({
        limiter: this.limiter("tpm", modelLimit.tokensPerMinute),
        key: `m:${model}`,
        points: Math.min(estimate, modelLimit.tokensPerMinute),
        scope: `model ${model}`,
        kind: "tokens",
        limit: modelLimit.tokensPerMinute,
        mine: false,
      });
    }
    const taken: (typeof steps)[number][] = [];
    const holds: TokenHold[] = [];
    for (const step of steps) {
      try {
        const res = await step.limiter.consume(step.key, step.points);
        taken.push(step);
        if (step.kind === "tokens") {
          holds.push({
            limiter: step.limiter,
            key: step.key,
            points: step.points,
            windowEndsAt: Date.now() + res.msBeforeNext,
          });
        }
        if (step.mine) {
          headers[`x-ratelimit-limit-${step.kind}`] = String(step.limit);
          headers[`x-ratelimit-remaining-${step.kind}`] = String(Math.max(0, res.remainingPoints));
          headers[`x-ratelimit-reset-${step.kind}`] = reset(res);
        }
      } catch (error) {
        if (!(error instanceof RateLimiterRes)) throw error;
        // Give back what this refused request already took.
        await Promise.all(taken.map((t) => t.limiter.reward(t.key, t.points)));
        const retryAfter = Math.max(1, Math.ceil(error.msBeforeNext / 1000));
        const code = step.kind === "requests" ? "rate_limit_requests" : "rate_limit_tokens";
        throw apiError(
          code,
          { scope: step.scope, limit: step.limit, retryAfter },
          {
            retryAfter,
            headers: {
              ...headers,
              [`x-ratelimit-limit-${step.kind}`]: String(step.limit),
              [`x-ratelimit-remaining-${step.kind}`]: "0",
              [`x-ratelimit-reset-${step.kind}`]: `${retryAfter}s`,
            },
          },
        );
      }
    }
    return { holds, headers };
  }

  /**
   * Replace the estimate with the tokens the request really used: the difference is given back
   * (only into the window it was taken from, so a request that spans a window's end cannot
   * credit the next one) or charged now.
   */
  async settle(charge: Charge, actualTokens: number): Promise<void> {
    if (charge.holds.length === 0) return;
    const now = Date.now();
    await Promise.all(
      charge.holds.map((hold) => {
        const diff = actualTokens - hold.points;
        if (diff > 0) return hold.limiter.penalty(hold.key, diff);
        if (diff < 0 && now < hold.windowEndsAt) return hold.limiter.reward(hold.key, -diff);
        return undefined;
      }),
    );
  }
}
