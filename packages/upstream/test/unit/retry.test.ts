import { errors } from "undici";
import { describe, expect, it } from "vitest";
import {
  answerFailure,
  type Failure,
  mayRetry,
  type RetryPolicy,
  retryDelay,
  retrying,
  type UpstreamAnswer,
} from "../../src";

const policy: RetryPolicy = {
  retries: 3,
  retryOn: ["timeout", "unreachable", "transient"],
  baseDelayMs: 500,
  maxDelayMs: 30_000,
};
const answer = (status: number, headers: UpstreamAnswer["headers"] = {}): UpstreamAnswer => ({
  status,
  headers,
  body: Buffer.from("{}"),
});

/** Runs `retrying` with a sleep that records its waits instead of waiting. */
function recorder() {
  const waits: number[] = [];
  return {
    waits,
    sleep: async (ms: number, signal: AbortSignal | undefined) => {
      waits.push(ms);
      signal?.throwIfAborted();
    },
  };
}

describe("the retry policy", () => {
  it("backs off exponentially with jitter, up to its cap, and waits longer when asked", () => {
    expect(retryDelay(policy, 1, undefined, () => 1)).toBe(500);
    expect(retryDelay(policy, 1, undefined, () => 0)).toBe(250);
    expect(retryDelay(policy, 3, undefined, () => 1)).toBe(2000);
    expect(retryDelay(policy, 10, undefined, () => 1)).toBe(30_000);
    const asked: Failure = { kind: "transient", status: 429, retryAfterMs: 5000 };
    expect(retryDelay(policy, 1, asked, () => 1)).toBe(5000);
    expect(retryDelay(policy, 8, asked, () => 1)).toBe(30_000); // the backoff is longer already
  });

  it("retries only the kinds it names, never a rejection, and only as often as allowed", () => {
    const once: RetryPolicy = { retries: 1, retryOn: ["unreachable"], baseDelayMs: 0, maxDelayMs: 0 };
    expect(mayRetry(once, { kind: "unreachable" }, 0)).toBe(true);
    expect(mayRetry(once, { kind: "unreachable" }, 1)).toBe(false);
    expect(mayRetry(once, { kind: "timeout" }, 0)).toBe(false);
    const everything: RetryPolicy = { ...once, retryOn: ["rejected", "transient"] };
    expect(mayRetry(everything, { kind: "rejected", status: 400 }, 0)).toBe(false);
  });
});

describe("retrying", () => {
  it("sends again after transient answers and errors until one succeeds", async () => {
    const { waits, sleep } = recorder();
    const outcomes: (UpstreamAnswer | Error)[] = [answer(503), new errors.SocketError("closed"), answer(200)];
    const attempts: number[] = [];
    const retried: string[] = [];
    const result = await retrying(
      policy,
      async (n) => {
        attempts.push(n);
        const next = outcomes.shift() as UpstreamAnswer | Error;
        if (next instanceof Error) throw next;
        return next;
      },
      { failed: answerFailure, sleep, random: () => 1, onRetry: (failure, n) => retried.push(`${n}:${failure.kind}`) },
    );
    expect(result.status).toBe(200);
    expect(attempts).toEqual([0, 1, 2]);
    expect(waits).toEqual([500, 1000]);
    expect(retried).toEqual(["1:transient", "2:unreachable"]);
  });

  it("stops at a rejection and returns it", async () => {
    const { waits, sleep } = recorder();
    let calls = 0;
    const result = await retrying(
      policy,
      async () => {
        calls++;
        return answer(400);
      },
      { failed: answerFailure, sleep },
    );
    expect(result.status).toBe(400);
    expect(calls).toBe(1);
    expect(waits).toEqual([]);
  });

  it("honours the server's Retry-After", async () => {
    const { waits, sleep } = recorder();
    const outcomes = [answer(429, { "retry-after": "12" }), answer(200)];
    await retrying(policy, async () => outcomes.shift() as UpstreamAnswer, {
      failed: answerFailure,
      sleep,
      random: () => 1,
    });
    expect(waits).toEqual([12_000]);
  });

  it("gives back the last answer, or throws the last error, once the retries run out", async () => {
    const { waits, sleep } = recorder();
    let calls = 0;
    const last = await retrying(
      policy,
      async () => {
        calls++;
        return answer(500 + calls);
      },
      { failed: (a) => (a.status >= 500 ? { kind: "transient" } : undefined), sleep },
    );
    expect(calls).toBe(4);
    expect(last.status).toBe(504);
    expect(waits).toHaveLength(3);

    calls = 0;
    const timeout = new errors.HeadersTimeoutError();
    await expect(
      retrying(
        policy,
        async () => {
          calls++;
          throw timeout;
        },
        { sleep },
      ),
    ).rejects.toBe(timeout);
    expect(calls).toBe(4);
  });

  it("stops waiting when aborted, with the signal's reason, and makes no further attempt", async () => {
    const controller = new AbortController();
    let calls = 0;
    const reason = new Error("the batch was cancelled");
    const run = retrying(
      { ...policy, baseDelayMs: 60_000, maxDelayMs: 60_000 },
      async () => {
        calls++;
        return answer(503);
      },
      { failed: answerFailure, signal: controller.signal },
    );
    setTimeout(() => controller.abort(reason), 20);
    const started = performance.now();
    await expect(run).rejects.toBe(reason);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(calls).toBe(1);
  });

  it("does not retry an attempt that ended after the abort", async () => {
    const controller = new AbortController();
    const { waits, sleep } = recorder();
    const error = new errors.SocketError("closed");
    await expect(
      retrying(
        policy,
        async () => {
          controller.abort();
          throw error;
        },
        { signal: controller.signal, sleep },
      ),
    ).rejects.toBe(error);
    expect(waits).toEqual([]);
  });
});
