import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT as SY_EXIT } from "../../../packages/sdk/src/cli/context";
import { EXIT as SWITCHYARD_EXIT } from "../src/cli-io";

/** docs/cli.md's one table of exit codes for `sy` and `switchyard` says what the code does. */
function table(): Map<number, { sy: string; switchyard: string }> {
  const doc = readFileSync(path.join(import.meta.dirname, "../../../docs/cli.md"), "utf8");
  const rows = new Map<number, { sy: string; switchyard: string }>();
  for (const line of doc.split("\n")) {
    const cells = line.split("|").map((cell) => cell.trim());
    if (cells.length !== 5 || !/^\d+$/.test(cells[1] ?? "")) continue;
    rows.set(Number(cells[1]), { sy: cells[2] ?? "", switchyard: cells[3] ?? "" });
  }
  return rows;
}

describe("exit codes", () => {
  it("every code either command uses is in the one table, under that command", () => {
    const rows = table();
    for (const code of Object.values(SY_EXIT)) expect(rows.get(code)?.sy, `sy ${code}`).toMatch(/\w/);
    for (const code of Object.values(SWITCHYARD_EXIT))
      expect(rows.get(code)?.switchyard, `switchyard ${code}`).toMatch(/\w/);
    expect(rows.get(SY_EXIT.auth)?.sy).toMatch(/not logged in/);
    expect(rows.get(SWITCHYARD_EXIT.usage)?.switchyard).toMatch(/usage error/);
  });
});
