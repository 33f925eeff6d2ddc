import { afterEach, describe, expect, it, vi } from "vitest";
import { Periodic } from "../../src";

afterEach(() => vi.useRealTimers());

describe("Periodic", () => {
  it("runs every interval, never two runs at once, and goes on after a failure", async () => {
    vi.useFakeTimers();
    const errors: unknown[] = [];
    let runs = 0;
    let release: () => void = () => {};
    const timer = new Periodic(
      1000,
      async () => {
        runs++;
        if (runs === 1) throw new Error("first run fails");
        await new Promise<void>((resolve) => {
          release = resolve;
        });
      },
      (error) => errors.push(error),
    );
    timer.start();
    await vi.advanceTimersByTimeAsync(1000);
    expect(runs).toBe(1);
    expect(errors).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(runs).toBe(2);
    // The second run is still going: the next ticks do not start another.
    await vi.advanceTimersByTimeAsync(3000);
    expect(runs).toBe(2);
    const stopped = timer.stop();
    let done = false;
    void stopped.then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(done, "stop waits for the run in progress").toBe(false);
    release();
    await stopped;
    await vi.advanceTimersByTimeAsync(5000);
    expect(runs).toBe(2);
  });
});
