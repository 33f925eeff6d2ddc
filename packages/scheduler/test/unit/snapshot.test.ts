import { describe, expect, it } from "vitest";
import { Snapshot } from "../../src/snapshot";

const flags = (pinned: string[]) => ({ pinned: new Set(pinned), maintenance: new Map<string, string>() });

describe("the snapshot's operator flags", () => {
  it("drops a re-read that began before this process's own write (an unpin stays unpinned)", () => {
    const snapshot = new Snapshot();
    snapshot.replaceFlags(flags(["model-1"]), snapshot.flagsVersion);
    expect(snapshot.isPinned("model-1")).toBe(true);
    // A reconcile pass starts reading the flags; the operator unpins meanwhile.
    const readFrom = snapshot.flagsVersion;
    snapshot.setPinned("model-1", false);
    // The pass's answer predates the unpin: it must not put the pin back.
    snapshot.replaceFlags(flags(["model-1"]), readFrom);
    expect(snapshot.isPinned("model-1")).toBe(false);
    // A read begun after the write is applied (here: another process pinned it again).
    snapshot.replaceFlags(flags(["model-1"]), snapshot.flagsVersion);
    expect(snapshot.isPinned("model-1")).toBe(true);
  });
});
