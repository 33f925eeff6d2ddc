import { setTimeout as sleepFor } from "node:timers/promises";
import { classifyFailure, type Failure, type FailureKind } from "./failure";

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

export interface RetryOptions<T> {
  /** A result that is a failure all the same (a 503 answer); by default every result is a success. */
  failed?: ((result: T) => Failure | undefined) | undefined;
  /** Stops the waiting between attempts: the call rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
  /** Before each retry (counters, logs). */
  onRetry?: ((failure: Failure, retry: number, delayMs: number) => void) | undefined;
  /** Waits (tests pass one that records instead). */
  sleep?: ((ms: number, signal: AbortSignal | undefined) => Promise<void>) | undefined;
  random?: (() => number) | undefined;
}

/** A failed answer of the buffered kind (status and headers), as `RetryOptions.failed`. */
export const answerFailure = (answer: { status: number; headers?: Record<string, string | string[] | undefined> }) =>
  classifyFailure(answer);

const wait = (ms: number, signal: AbortSignal | undefined) => sleepFor(ms, undefined, { signal });

/**
 * Run `attempt` until it succeeds, fails in a way the policy does not retry, or the retries run
 * out. A thrown error is classified with `classifyFailure`, a result with `options.failed`. What
 * ends it is returned (the last result, even a failed one) or thrown (the last error).
 */
export async function retrying<T>(
  policy: RetryPolicy,
  attempt: (attempt: number) => Promise<T>,
  options: RetryOptions<T> = {},
): Promise<T> {
  const { signal } = options;
  for (let n = 0; ; n++) {
    let failure: Failure | undefined;
    try {
      const result = await attempt(n);
      failure = options.failed?.(result);
      if (!failure || signal?.aborted || !mayRetry(policy, failure, n)) return result;
    } catch (error) {
      failure = classifyFailure(error);
      if (signal?.aborted || !mayRetry(policy, failure, n)) throw error;
    }
    const delay = retryDelay(policy, n + 1, failure, options.random);
    options.onRetry?.(failure, n + 1, delay);
    try {
      await (options.sleep ?? wait)(delay, signal);
    } catch (error) {
      throw signal?.aborted ? signal.reason : error;
    }
  }
}
