import { describe, expect, it } from "vitest";
import {
  ACTIVE_BATCH_STATUSES,
  BATCH_LINE_ERROR_CODES,
  BATCH_STATUSES,
  batchLineError,
  batchStatusesBefore,
  canTransitionBatch,
  ENDED_BATCH_STATUSES,
} from "../../src";

describe("batch status transitions", () => {
  it("follows validating -> in_progress -> finalizing -> completed", () => {
    const path = ["validating", "in_progress", "finalizing", "completed"] as const;
    for (let i = 1; i < path.length; i++) expect(canTransitionBatch(path[i - 1]!, path[i]!)).toBe(true);
  });

  it("never leaves an ended status, and every active one may fail", () => {
    for (const from of ENDED_BATCH_STATUSES) {
      for (const to of BATCH_STATUSES) expect(canTransitionBatch(from, to)).toBe(false);
    }
    expect(batchStatusesBefore("failed")).toEqual([...ACTIVE_BATCH_STATUSES].sort(byListOrder));
  });

  it("cancels only what has not started to finish: validating or running", () => {
    expect(batchStatusesBefore("cancelling")).toEqual(["validating", "in_progress"]);
    expect(canTransitionBatch("finalizing", "cancelling")).toBe(false);
    expect(batchStatusesBefore("cancelled")).toEqual(["in_progress", "cancelling"]);
  });

  it("does not skip steps: no completion without finalizing, no run without validation", () => {
    expect(canTransitionBatch("in_progress", "completed")).toBe(false);
    expect(canTransitionBatch("validating", "completed")).toBe(false);
    expect(canTransitionBatch("validating", "finalizing")).toBe(false);
    expect(canTransitionBatch("cancelling", "in_progress")).toBe(false);
    expect(batchStatusesBefore("in_progress")).toEqual(["validating"]);
  });
});

describe("batch line errors", () => {
  it("fill their templates and keep the codes users match on", () => {
    expect(BATCH_LINE_ERROR_CODES).toEqual([
      "model_server_rejected",
      "invalid_upstream_response",
      "upstream_error",
      "rate_limited",
      "upstream_timeout",
      "upstream_unreachable",
      "batch_expired",
      "internal_error",
    ]);
    expect(batchLineError("upstream_timeout", { seconds: 30 })).toEqual({
      code: "upstream_timeout",
      message: "No answer from the model server within 30 s.",
    });
    expect(batchLineError("rate_limited", { status: 429, attempts: 4 }).message).toBe(
      "The model server answered 429 4 times.",
    );
    // A value is not read as a template itself.
    expect(batchLineError("model_server_rejected", { detail: "bad {detail}" }).message).toBe("bad {detail}");
  });
});

function byListOrder(a: string, b: string): number {
  return BATCH_STATUSES.indexOf(a as never) - BATCH_STATUSES.indexOf(b as never);
}
