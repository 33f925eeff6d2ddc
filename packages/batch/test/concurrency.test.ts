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

  it("is cut when the server pushes back, and steps down when latency climbs far above the best", () => {
    const limiter = new AdaptiveConcurrency(32, 64);
    for (let i = 0; i < 8; i++) limiter.overload();
    expect(limiter.limit).toBe(22);
    const slow = new AdaptiveConcurrency(32, 64);
    window(slow, 100);
    expect(slow.limit).toBe(36);
    window(slow, 1000);
    expect(slow.limit).toBe(32);
  });

  it("holds (neither grows nor shrinks) while latency is somewhat above the best", () => {
    const limiter = new AdaptiveConcurrency(16, 64);
    window(limiter, 200);
    const reached = limiter.limit;
    for (let i = 0; i < 10; i++) window(limiter, 400);
    expect(limiter.limit).toBe(reached);
  });

  it("does not read a millisecond of noise on a very fast server as overload", () => {
    const limiter = new AdaptiveConcurrency(8, 48);
    for (let i = 0; i < 40; i++) window(limiter, i % 3 === 0 ? 12 : 0.4);
    expect(limiter.limit).toBe(48);
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
