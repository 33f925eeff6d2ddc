import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createMetrics, registerDatabaseUp } from "../src/metrics";

const INTERVAL = 5000;
const TIMEOUT = 1000;

/** A registry with only the gauge, and a ping that counts its calls and answers `answer()`. */
function gauge(answer: (timeoutMs: number) => Promise<boolean>) {
  const { registry } = createMetrics({ defaultMetrics: false });
  const calls: number[] = [];
  const stop = registerDatabaseUp(
    registry,
    (timeoutMs) => {
      calls.push(timeoutMs);
      return answer(timeoutMs);
    },
    { intervalMs: INTERVAL, timeoutMs: TIMEOUT },
  );
  const scrape = async () => {
    const text = await registry.getSingleMetricAsString("switchyard_database_up");
    return Number(/^switchyard_database_up (\d+)$/m.exec(text)?.[1]);
  };
  return { calls, stop, scrape };
}

/** Let settled pings' callbacks run (fake timers leave promises alone). */
const settle = () => vi.advanceTimersByTimeAsync(0);

describe("switchyard_database_up", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("pings at most once per interval however many scrapes come", async () => {
    const { calls, stop, scrape } = gauge(async () => true);
    try {
      // Nothing pings before the first scrape.
      await vi.advanceTimersByTimeAsync(3 * INTERVAL);
      expect(calls).toHaveLength(0);
      for (let i = 0; i < 100; i++) expect(await scrape()).toBe(1);
      expect(calls).toEqual([TIMEOUT]);
      await vi.advanceTimersByTimeAsync(INTERVAL - 1);
      for (let i = 0; i < 100; i++) await scrape();
      expect(calls).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(calls).toHaveLength(2);
      // A minute of scrapes every 100 ms (several Prometheus servers): twelve more pings.
      for (let t = 0; t < 60_000; t += 100) {
        await scrape();
        await vi.advanceTimersByTimeAsync(100);
      }
      expect(calls).toHaveLength(14);
    } finally {
      stop();
    }
  });

  it("goes to 0 when the ping fails or throws, and back to 1 when it answers", async () => {
    let answer: () => Promise<boolean> = async () => true;
    const { stop, scrape } = gauge(() => answer());
    try {
      expect(await scrape()).toBe(1);
      answer = async () => false;
      await vi.advanceTimersByTimeAsync(INTERVAL);
      expect(await scrape()).toBe(0);
      answer = async () => {
        throw new Error("connection refused");
      };
      await vi.advanceTimersByTimeAsync(INTERVAL);
      expect(await scrape()).toBe(0);
      answer = async () => true;
      await vi.advanceTimersByTimeAsync(INTERVAL);
      expect(await scrape()).toBe(1);
    } finally {
      stop();
    }
  });

  it("never holds a scrape on a hung database, and goes to 0 when the ping times out", async () => {
    let hung = false;
    const { calls, stop, scrape } = gauge((timeoutMs) =>
      hung ? new Promise((resolve) => setTimeout(() => resolve(false), timeoutMs)) : Promise.resolve(true),
    );
    try {
      expect(await scrape()).toBe(1);
      hung = true;
      await vi.advanceTimersByTimeAsync(INTERVAL);
      // The ping is out: scrapes answer at once (no timer has to fire) with the last answer.
      expect(await scrape()).toBe(1);
      expect(await scrape()).toBe(1);
      await vi.advanceTimersByTimeAsync(TIMEOUT);
      expect(await scrape()).toBe(0);
      expect(calls).toHaveLength(2);
    } finally {
      stop();
    }
  });

  it("starts no ping while one is still out", async () => {
    let pending = 0;
    const { calls, stop, scrape } = gauge(() => {
      pending++;
      return new Promise(() => {});
    });
    try {
      await scrape();
      await vi.advanceTimersByTimeAsync(10 * INTERVAL);
      await scrape();
      expect(calls).toHaveLength(1);
      expect(pending).toBe(1);
    } finally {
      stop();
    }
  });

  it("stops pinging when the process closes", async () => {
    const { calls, stop, scrape } = gauge(async () => true);
    await scrape();
    await settle();
    stop();
    await vi.advanceTimersByTimeAsync(10 * INTERVAL);
    expect(calls).toHaveLength(1);
  });
});
