import { describe, expect, it } from "vitest";
import { detailFields, eta, etaCell, readyIn } from "../src/format";

// Unit-level: how the dashboard words an ETA (Models page, Overview's queue, the playground).
describe("the dashboard's ETAs", () => {
  it("says unknown for a queued model whose wait the server cannot know, never a small number", () => {
    expect(readyIn("queued", null)).toBe("ready time unknown");
    expect(etaCell("queued", null)).toBe("unknown");
    expect(etaCell("queued", undefined)).toBe("unknown");
  });

  it("shows a known wait in words, at least 1 s", () => {
    expect(readyIn("queued", 95)).toBe("ready in about 2 min");
    expect(readyIn("starting", 0)).toBe("ready in about 1 s");
    expect(etaCell("starting", 40.2)).toBe("40 s");
    expect(eta(3900)).toBe("1 h 5 min");
  });

  it("says nothing about readiness for models that are not waiting", () => {
    expect(readyIn("live", null)).toBe("");
    expect(readyIn("offline", 12)).toBe("");
    expect(readyIn("starting", null)).toBe("");
    expect(etaCell("starting", null)).toBe("—");
  });
});

// The Audit page shows an entry's details as fields, not as JSON.
describe("audit details as fields", () => {
  it("words keys, flattens nested objects, joins lists and marks empty values", () => {
    expect(
      detailFields({
        method: "password",
        address: "127.0.0.1",
        expiresAt: null,
        scopes: ["inference", "batch"],
        limits: { maxTokens: 10 },
        user_code: "ABCD-EFGH",
      }),
    ).toEqual([
      ["method", "password"],
      ["address", "127.0.0.1"],
      ["expires at", "—"],
      ["scopes", "inference, batch"],
      ["limits.max tokens", "10"],
      ["user code", "ABCD-EFGH"],
    ]);
    expect(detailFields(null)).toEqual([]);
  });
});
