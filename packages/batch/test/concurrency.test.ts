import { describe, expect, it } from "vitest";
import { AdaptiveConcurrency } from "../src";

function window(limiter: AdaptiveConcurrency, latency: number) {
  for (let i = limiter.limit; i > 0; i--) limiter.success(latency);
}

describe("adaptive batch concurrency", () => {
  it("grows while latency holds, up to the ceiling", () => {
    const limiter = new AdaptiveConcurrency(4, 40);
    for (let i = 0; i < 50; i++) window(limiter, 100);
    expect(limiter.limit).toBe(40);
  });

  it("backs off when the server pushes back, and when latency climbs far above the best", () => {
    const limiter = new AdaptiveConcurrency(32, 64);
    for (let i = 0; i < 8; i++) limiter.overload();
    expect(limiter.limit).toBe(22);
    const slow = new AdaptiveConcurrency(32, 64);
    window(slow, 100);
    window(slow, 1000);
    expect(slow.limit).toBeLessThan(32);
  });

  it("never goes below one or above a lowered ceiling", () => {
    const limiter = new AdaptiveConcurrency(8, 16);
    for (let i = 0; i < 200; i++) limiter.overload();
    expect(limiter.limit).toBe(1);
    const capped = new AdaptiveConcurrency(16, 16);
    capped.setCeiling(6);
    expect(capped.limit).toBe(6);
  });
});
