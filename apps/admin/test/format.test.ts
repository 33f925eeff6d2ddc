import { describe, expect, it } from "vitest";
import {
  bucketFor,
  DAY_MS,
  detailFields,
  eta,
  etaCell,
  HOUR_MS,
  MINUTE_MS,
  readyIn,
  timeTicks,
  toCsv,
} from "../src/format";

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

describe("the usage page's CSV, buckets and time axis", () => {
  it("quotes CSV cells that need it, doubles quotes, and keeps spreadsheets from running formulas", () => {
    expect(toCsv(["User", "Requests"], [["ada", 3]])).toBe("User,Requests\r\nada,3\r\n");
    expect(toCsv(["a", "b", "c"], [['say "hi"', "x,y", "two\nlines"]])).toBe(
      'a,b,c\r\n"say ""hi""","x,y","two\nlines"\r\n',
    );
    expect(toCsv(["a", "b", "c"], [[" padded", null, undefined]])).toBe('a,b,c\r\n" padded",,\r\n');
    expect(toCsv(["a", "b"], [["=SUM(A1:A9)", "-1"]])).toBe("a,b\r\n'=SUM(A1:A9),'-1\r\n");
    // Numbers stay numbers, negative ones included.
    expect(toCsv(["n"], [[-4], [1234567], [Number.NaN]])).toBe("n\r\n-4\r\n1234567\r\n\r\n");
  });

  it("picks a bucket that gives tens to a couple of hundred bars", () => {
    expect(bucketFor(HOUR_MS)).toBe("minute");
    expect(bucketFor(6 * HOUR_MS)).toBe("5min");
    expect(bucketFor(DAY_MS)).toBe("15min");
    expect(bucketFor(7 * DAY_MS)).toBe("hour");
    expect(bucketFor(30 * DAY_MS)).toBe("day");
  });

  it("labels round times only, at most as many as asked", () => {
    const start = Date.UTC(2026, 11, 5, 10, 0);
    const minutes = Array.from({ length: 60 }, (_, i) => start + i * MINUTE_MS);
    const { ticks, step } = timeTicks(minutes, "minute", 6);
    expect(ticks.length).toBeLessThanOrEqual(6);
    expect(ticks.length).toBeGreaterThanOrEqual(2);
    expect(step % (10 * MINUTE_MS)).toBe(0);
    // Day buckets start at UTC midnight, which is not a round local time everywhere: then every
    // k-th bucket; either way a few of the buckets themselves.
    const days = Array.from({ length: 30 }, (_, i) => Date.UTC(2026, 10, 1) + i * DAY_MS);
    const daily = timeTicks(days, "day", 5);
    expect(daily.ticks.length).toBeLessThanOrEqual(5);
    expect(daily.ticks.length).toBeGreaterThanOrEqual(2);
    expect(daily.ticks.every((t) => days.includes(t))).toBe(true);
    expect(timeTicks([], "hour").ticks).toEqual([]);
  });
});
