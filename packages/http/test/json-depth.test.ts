import { describe, expect, it } from "vitest";
import { jsonNestingExceeds } from "../src";

const deep = (levels: number) => "[".repeat(levels) + "]".repeat(levels);
const bytes = (text: string) => Buffer.from(text);

describe("the JSON nesting scan", () => {
  it("finds nesting deeper than the limit, of arrays and objects alike", () => {
    expect(jsonNestingExceeds(bytes(deep(64)), 64)).toBe(false);
    expect(jsonNestingExceeds(bytes(deep(65)), 64)).toBe(true);
    expect(jsonNestingExceeds(bytes(`${'{"a":'.repeat(65)}1${"}".repeat(65)}`), 64)).toBe(true);
    // Siblings do not add up: only the depth counts.
    expect(jsonNestingExceeds(bytes(`[${Array.from({ length: 200 }, () => deep(10)).join(",")}]`), 64)).toBe(false);
  });

  it("does not count brackets inside strings, escaped quotes included", () => {
    const inString = JSON.stringify({ text: "[".repeat(500), quoted: `\\"${"{".repeat(500)}\\\\`, after: deep(3) });
    expect(jsonNestingExceeds(bytes(inString), 64)).toBe(false);
    const escapedThenDeep = `{"a":"\\\\","b":${deep(100)}}`;
    expect(jsonNestingExceeds(bytes(escapedThenDeep), 64)).toBe(true);
  });
});
