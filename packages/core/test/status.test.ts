import { describe, expect, it } from "vitest";
import {
  canTransition,
  DEPLOYMENT_STATES,
  formatDuration,
  isChangingDeployment,
  isCurrentDeployment,
  isUnfinishedDeployment,
  modelStatusOf,
  modelWaitDetail,
  parseDuration,
} from "../src";

describe("model status from deployment states", () => {
  it.each([
    [[], "offline"],
    [["failed"], "offline"],
    [["draining"], "offline"],
    [["queued"], "queued"],
    [["queued", "starting"], "starting"],
    [["starting", "live", "failed"], "live"],
    [["draining", "live"], "live"],
  ] as const)("%j -> %s", (states, status) => {
    expect(modelStatusOf(states)).toBe(status);
  });
});

describe("deployment state machine", () => {
  it("follows offline -> queued -> starting -> live -> draining -> offline", () => {
    const path = ["offline", "queued", "starting", "live", "draining", "offline"] as const;
    for (let i = 1; i < path.length; i++) expect(canTransition(path[i - 1]!, path[i]!)).toBe(true);
  });
  it("lets any state fail except from failed itself, and never jumps offline -> live", () => {
    for (const state of DEPLOYMENT_STATES) expect(canTransition(state, "failed")).toBe(state !== "failed");
    expect(canTransition("offline", "live")).toBe(false);
    expect(canTransition("draining", "live")).toBe(false);
  });
  it("names its state groups: current (one per model), unfinished (may hold a node), changing", () => {
    const having = (predicate: (state: (typeof DEPLOYMENT_STATES)[number]) => boolean) =>
      DEPLOYMENT_STATES.filter(predicate);
    expect(having(isCurrentDeployment)).toEqual(["queued", "starting", "live"]);
    expect(having(isUnfinishedDeployment)).toEqual(["queued", "starting", "live", "draining"]);
    expect(having(isChangingDeployment)).toEqual(["queued", "starting", "draining"]);
    // Only a finished deployment may be followed by a new current one.
    for (const state of DEPLOYMENT_STATES) expect(canTransition(state, "queued")).toBe(!isUnfinishedDeployment(state));
  });
});

describe("durations", () => {
  it.each([
    ["500ms", 0.5],
    ["30s", 30],
    ["10m", 600],
    ["2h", 7200],
    ["1d", 86400],
    [90, 90],
    ["soon", undefined],
    ["-5s", undefined],
  ] as const)("%s -> %s", (input, seconds) => {
    expect(parseDuration(input)).toBe(seconds);
  });
  it("formats for people", () => {
    expect(formatDuration(7200)).toBe("2h");
    expect(formatDuration(90)).toBe("1m30s");
    expect(formatDuration(0.25)).toBe("250ms");
  });
});

describe("where a model that is not live stands, in words", () => {
  const wait = { queuePosition: null, etaSeconds: null, reason: null };
  it.each([
    [
      { status: "queued", queuePosition: 2, etaSeconds: 39.2, reason: "Resources" },
      " (position 2 in the queue, ready in about 40 s; Resources)",
    ],
    [{ status: "queued", queuePosition: 1 }, " (position 1 in the queue, ready time unknown)"],
    [{ status: "starting", etaSeconds: 11.5 }, " (loading, about 12 s to go)"],
    [{ status: "starting" }, " (loading)"],
    [{ status: "offline", reason: "cluster lab is in maintenance" }, " (cluster lab is in maintenance)"],
    [{ status: "offline" }, ""],
  ] as const)("%j", (given, words) => {
    expect(modelWaitDetail({ ...wait, ...given })).toBe(words);
  });
});
