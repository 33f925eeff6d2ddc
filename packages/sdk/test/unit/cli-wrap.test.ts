import { describe, expect, it } from "vitest";
import { truncate, wrapText } from "../../src/cli/output";

describe("wrapText", () => {
  it("breaks prose between words, never wider than the width", () => {
    const text = "Created key_abc (scopes: inference, batch). Copy the key now: it is not shown again.";
    const lines = wrapText(text, 30).split("\n");
    expect(lines.every((l) => l.length <= 30)).toBe(true);
    expect(lines.join(" ")).toBe(text);
  });

  it("continues an item under its text, or under the term when the text would be too narrow", () => {
    expect(wrapText("  5    rate limited, the model was still not ready after waiting", 40)).toBe(
      "  5    rate limited, the model was still\n       not ready after waiting",
    );
    expect(wrapText("  --server URL or SWITCHYARD_URL    default: the last server", 50)).toBe(
      "  --server URL or SWITCHYARD_URL\n      default: the last server",
    );
  });

  it("leaves a line that fits, and a word longer than the width whole", () => {
    expect(wrapText("short", 10)).toBe("short");
    expect(wrapText("see http://127.0.0.1:8080/device?user_code=ABCD", 20)).toBe(
      "see\nhttp://127.0.0.1:8080/device?user_code=ABCD",
    );
  });

  it("cuts a cell with an ellipsis", () => {
    expect(truncate("org/a-very-long-model", 8)).toBe("org/a-v…");
    expect(truncate("org/chat", 8)).toBe("org/chat");
  });
});
