import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../src/cli";

const temp = mkdtempSync(path.join(tmpdir(), "sy-trace-"));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

/** `switchyard trace ...`, in-process through the CLI's entry point. */
async function run(args: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, {
    out: (text) => (stdout += text),
    err: (text) => (stderr += text),
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
  });
  return { code, stdout, stderr };
}

describe("switchyard trace", () => {
  const file = path.join(temp, "day.jsonl");

  it("generates the same seeded day twice, and replays it through every policy side by side", async () => {
    const first = await run(["trace", "generate", "--models", "catalog", "--days", "1", "--seed", "5", "--out", file]);
    expect(first.code).toBe(0);
    const text = readFileSync(file, "utf8");
    const again = await run(["trace", "generate", "--models", "catalog", "--days", "1", "--seed", "5"]);
    expect(again.stdout).toBe(text);
    const lines = text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThan(1000);
    expect(Object.keys(lines[0]).sort()).toEqual([
      "at",
      "cluster",
      "completionTokens",
      "kind",
      "model",
      "promptTokens",
      "user",
    ]);

    const replay = await run(["trace", "replay", "--trace", file, "--policy", "all", "--json"]);
    expect(replay.code).toBe(0);
    const body = JSON.parse(replay.stdout) as {
      results: { policy: string; requests: number; waitedShare: number; p95WaitSeconds: number }[];
    };
    expect(body.results.map((r) => r.policy)).toEqual(["reference", "current", "predictive", "adaptive"]);
    const interactive = lines.filter((l) => l.kind === "interactive").length;
    for (const r of body.results) expect(r.requests).toBe(interactive);
    // The reference makes a model that finds no free node wait for a 24 h lifetime; the others do not.
    const [reference, current] = body.results;
    expect(current?.p95WaitSeconds).toBeLessThan(reference?.p95WaitSeconds ?? 0);

    const table = await run(["trace", "replay", "--trace", file, "--policy", "current,adaptive"]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/found their model live\s+\d+\.\d %\s+\d+\.\d %/);
    expect(table.stdout).toContain("GPU-hours held (dynamic)");
  });

  it("says what is wrong with a bad policy, a bad trace line or a missing file", async () => {
    const policy = await run(["trace", "replay", "--trace", file, "--policy", "fastest"]);
    expect(policy.code).toBe(2);
    expect(policy.stderr).toContain(
      "unknown policy 'fastest'; choose from reference, current, predictive, adaptive or all",
    );

    const bad = path.join(temp, "bad.jsonl");
    writeFileSync(
      bad,
      `${JSON.stringify({ at: "2026-01-05T10:00:00Z", model: "m", user: "u", kind: "interactive" })}\n{oops\n${JSON.stringify({ at: "yesterday", model: "m", user: "u", kind: "interactive" })}\n`,
    );
    const lines = await run(["trace", "replay", "--trace", bad]);
    expect(lines.code).toBe(1);
    expect(lines.stderr).toContain("invalid trace (2 bad lines)");
    expect(lines.stderr).toContain(`${bad}:2: not JSON`);
    expect(lines.stderr).toContain(`${bad}:3: at:`);

    const missing = await run(["trace", "replay", "--trace", path.join(temp, "nope.jsonl")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no such file");
  });
});
