import { describe, expect, it } from "vitest";
import { Interrupts, nextInterruption } from "../../src/run/interrupts";

describe("interruptions", () => {
  it("lets a stop never override a cancel or an expiry, and a lost lock override all", () => {
    expect(nextInterruption(undefined, "stop")).toBe("stop");
    expect(nextInterruption("cancel", "stop")).toBeUndefined();
    expect(nextInterruption("expire", "stop")).toBeUndefined();
    expect(nextInterruption("stop", "cancel")).toBe("cancel");
    expect(nextInterruption("cancel", "lost")).toBe("lost");
    expect(nextInterruption("lost", "cancel")).toBeUndefined();
    expect(nextInterruption("cancel", "cancel")).toBeUndefined();
  });

  it("aborts its signal and tells listeners why, once per change", () => {
    const interrupts = new Interrupts();
    const heard: string[] = [];
    const unsubscribe = interrupts.onInterrupt((why) => heard.push(why.message));
    interrupts.interrupt("cancel");
    interrupts.interrupt("stop");
    expect(interrupts.signal.aborted).toBe(true);
    expect(interrupts.reason).toBe("cancel");
    unsubscribe();
    interrupts.interrupt("lost");
    expect(interrupts.isLost()).toBe(true);
    expect(heard).toEqual(["the batch was cancelled"]);
  });
});
