import type { GatewaySettings, LimitConfig } from "@switchyard/core";
import { sy } from "@switchyard/core";
import type { Redis } from "ioredis";
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";

interface Grant {
  userTokensKey: string;
  modelTokensKey: string;
  userTokenLimit: number;
  modelTokenLimit: number;
  estimate: number;
}

/** What a request was charged, to settle with the real token count afterwards. */
export interface Charge {
  grant: Grant | undefined;
  /** OpenAI's `x-ratelimit-*` headers for the caller. */
  headers: Record<string, string>;
}

function reset(res: RateLimiterRes): string {
  return `${Math.max(0, Math.ceil(res.msBeforeNext / 1000))}s`;
}

/**
 * Requests and tokens per minute, per user and per model (defaults, per-model and per-group
 * overrides from config). Tokens are charged up front with an estimate (prompt size plus
 * max_tokens) and settled with the real count once the response says it. In memory, or in
 * Redis when configured so every instance shares the counts.
 */
export class RateLimits {
  private readonly limiters = new Map<string, RateLimiterAbstract>();

  constructor(
    private readonly settings: GatewaySettings["limits"],
    private readonly redis?: Redis,
  ) {}

  private limiter(kind: string, points: number): RateLimiterAbstract {
    const key = `${kind}:${points}`;
    let limiter = this.limiters.get(key);
    if (!limiter) {
      const options = { points, duration: 60, keyPrefix: `sy_${kind}_${points}` };
      limiter = this.redis
        ? new RateLimiterRedis({ ...options, storeClient: this.redis })
        : new RateLimiterMemory(options);
      this.limiters.set(key, limiter);
    }
    return limiter;
  }

  private userLimit(groups: readonly string[]): LimitConfig {
    let requests = this.settings.user.requestsPerMinute;
    let tokens = this.settings.user.tokensPerMinute;
    for (const group of groups) {
      const override = this.settings.groups[group];
      if (!override) continue;
      if (override.requestsPerMinute !== undefined) requests = Math.max(requests ?? 0, override.requestsPerMinute);
      if (override.tokensPerMinute !== undefined) tokens = Math.max(tokens ?? 0, override.tokensPerMinute);
    }
    return { requestsPerMinute: requests, tokensPerMinute: tokens };
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
    for (const step of steps) {
      try {
        const res = await step.limiter.consume(step.key, step.points);
        taken.push(step);
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
        throw sy(
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
    const grant =
      userLimit.tokensPerMinute || modelLimit.tokensPerMinute
        ? {
            userTokensKey: `u:${user.id}`,
            modelTokensKey: `m:${model}`,
            userTokenLimit: userLimit.tokensPerMinute ?? 0,
            modelTokenLimit: modelLimit.tokensPerMinute ?? 0,
            estimate,
          }
        : undefined;
    return { grant, headers };
  }

  /** Replace the estimate with the tokens the response really used. */
  async settle(charge: Charge, actualTokens: number): Promise<void> {
    const grant = charge.grant;
    if (!grant) return;
    const diff = actualTokens - grant.estimate;
    if (diff === 0) return;
    const pairs = [
      [grant.userTokenLimit, grant.userTokensKey],
      [grant.modelTokenLimit, grant.modelTokensKey],
    ] as const;
    await Promise.all(
      pairs
        .filter(([limit]) => limit > 0)
        .map(([limit, key]) => {
          const limiter = this.limiter("tpm", limit);
          return diff > 0 ? limiter.penalty(key, diff) : limiter.reward(key, -diff);
        }),
    );
  }
}

/** Tokens a request may use, estimated before it runs: its text at ~4 bytes a token plus what it may generate. */
export function estimateTokens(bodyBytes: number, body: Record<string, unknown>, generates = true): number {
  if (!generates) return Math.ceil(bodyBytes / 4);
  const maxOut = body.max_completion_tokens ?? body.max_tokens ?? body.max_output_tokens;
  const out = typeof maxOut === "number" && maxOut > 0 ? Math.min(maxOut, 32_768) : 256;
  return Math.ceil(bodyBytes / 4) + out;
}
