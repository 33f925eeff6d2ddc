import { describe, expect, it } from "vitest";
import { type Failure, mayRetry, type RetryPolicy, retryDelay } from "../../src";

const policy: RetryPolicy = {
  retries: 3,
  retryOn: ["timeout", "unreachable", "transient"],
  baseDelayMs: 500,
  maxDelayMs: 30_000,
};
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
