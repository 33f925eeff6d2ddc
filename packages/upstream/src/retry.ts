import type { Failure, FailureKind } from "./failure";

/** When a failed request to a model server is sent again, and after how long. */
export interface RetryPolicy {
  /** Attempts after the first one. */
  retries: number;
  /** The failures worth another attempt (never `rejected`: it would get the same answer). */
  retryOn: readonly FailureKind[];
  /** The wait before retry n is `baseDelayMs * 2^(n-1)`, at most `maxDelayMs`, then 50-100 % of it (jitter). */
  baseDelayMs: number;
  maxDelayMs: number;
}

/** Whether attempt `attempt` (0 for the first) that failed so may be followed by another. */
export function mayRetry(policy: RetryPolicy, failure: Failure, attempt: number): boolean {
  return attempt < policy.retries && failure.kind !== "rejected" && policy.retryOn.includes(failure.kind);
}

/** The wait before retry `retry` (1 for the first): the backoff, or longer if the server asked (`Retry-After`). */
export function retryDelay(policy: RetryPolicy, retry: number, failure?: Failure, random = Math.random): number {
  const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1)) * (0.5 + random() / 2);
  return Math.max(backoff, failure?.retryAfterMs ?? 0);
}
