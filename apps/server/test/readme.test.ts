import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const root = new URL("../../../", import.meta.url);
const readme = readFileSync(new URL("README.md", root), "utf8");
const ci = readFileSync(new URL(".ci/run", root), "utf8");
const commands = [...readme.matchAll(/```sh\n([^\n]+)\n```/g)].map((m) => m[1]);

describe("the README's promises", () => {
  it("starts with the serve command, then the test command", () => {
    expect(commands[0]).toMatch(/pnpm install && pnpm switchyard serve$/);
    expect(commands[1]).toMatch(/pnpm install && pnpm test$/);
  });

  it("is what CI runs", () => {
    expect(ci).toContain(`\n${commands[1]}\n`);
    // The export itself (not a comment that names it), set before the tests run.
    const lines = ci.split("\n");
    const exported = lines.indexOf("export SWITCHYARD_REQUIRE_SERVICES=1");
    expect(exported, "`export SWITCHYARD_REQUIRE_SERVICES=1` on a line of its own").toBeGreaterThanOrEqual(0);
    expect(exported, "exported before the test command").toBeLessThan(lines.indexOf(commands[1]!));
  });
});
