import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { SwitchyardError } from "@switchyard/core";
import { afterAll, describe, expect, it } from "vitest";
import { checkInputFile, prepareOutputDir } from "../src";

const root = mkdtempSync(path.join(tmpdir(), "sy-paths-"));
const allowed = path.join(root, "shared");
const outside = path.join(root, "private");
mkdirSync(path.join(allowed, "project"), { recursive: true });
mkdirSync(outside);
writeFileSync(path.join(allowed, "project", "in.jsonl"), "{}\n");
writeFileSync(path.join(outside, "secret.jsonl"), "{}\n");
symlinkSync(path.join(outside, "secret.jsonl"), path.join(allowed, "link.jsonl"));
symlinkSync(outside, path.join(allowed, "escape"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function refusal(promise: Promise<unknown>): Promise<SwitchyardError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(SwitchyardError);
    return error as SwitchyardError;
  }
  throw new Error("expected a refusal");
}

describe("batch paths stay inside the allowed directories", () => {
  it("accepts a readable file inside and returns its real path", async () => {
    expect(await checkInputFile(path.join(allowed, "project", "in.jsonl"), [allowed], "lab")).toBe(
      path.join(allowed, "project", "in.jsonl"),
    );
  });

  it("refuses a file outside, naming the directories (403)", async () => {
    const error = await refusal(checkInputFile(path.join(outside, "secret.jsonl"), [allowed], "lab"));
    expect(error.code).toBe("path_not_allowed");
    expect(error.status).toBe(403);
    expect(error.message).toBe(
      `input_file '${path.join(outside, "secret.jsonl")}' is outside the directories batches may use on cluster 'lab': ${allowed}.`,
    );
  });

  it("refuses '..' even when it would land inside", async () => {
    const error = await refusal(checkInputFile(`${allowed}/project/../project/in.jsonl`, [allowed], "lab"));
    expect([error.code, error.status, error.param]).toEqual(["invalid_path", 400, "input_file"]);
    expect(error.message).toMatch(/must not contain '\.\.'/);
  });

  it("refuses a symlink that leads out, for files and for output folders", async () => {
    expect((await refusal(checkInputFile(path.join(allowed, "link.jsonl"), [allowed], "lab"))).code).toBe(
      "path_not_allowed",
    );
    const out = await refusal(prepareOutputDir(path.join(allowed, "escape", "results"), [allowed], "lab"));
    expect(out.code).toBe("path_not_allowed");
  });

  it("says what is wrong with relative, missing and non-file paths", async () => {
    expect((await refusal(checkInputFile("in.jsonl", [allowed], "lab"))).message).toMatch(/must be an absolute path/);
    expect((await refusal(checkInputFile(path.join(allowed, "nope.jsonl"), [allowed], "lab"))).message).toMatch(
      /does not exist/,
    );
    expect((await refusal(checkInputFile(path.join(allowed, "project"), [allowed], "lab"))).message).toMatch(
      /is not a regular file/,
    );
  });

  it("creates a missing output folder inside, and refuses one when nothing is allowed", async () => {
    const made = await prepareOutputDir(path.join(allowed, "new", "deeper"), [allowed], "lab");
    expect(made).toBe(path.join(allowed, "new", "deeper"));
    const none = await refusal(prepareOutputDir(path.join(allowed, "x"), [], "lab"));
    expect(none.message).toMatch(/none are configured/);
  });
});
