import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { SwitchyardError } from "@switchyard/core";
import { afterAll, describe, expect, it } from "vitest";
import { checkInputFile, prepareOutputDir } from "../../src";

// Attacks on the paths a batch names, answered when the batch is created.
const root = mkdtempSync(path.join(tmpdir(), "sy-sec-paths-"));
const allowed = path.join(root, "projects");
const outside = path.join(root, "home");
mkdirSync(path.join(allowed, "p1"), { recursive: true });
mkdirSync(outside);
writeFileSync(path.join(outside, ".bashrc"), "secret\n");
writeFileSync(path.join(allowed, "p1", "in.jsonl"), "{}\n");
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

describe("batch paths: existence oracle and traversal", () => {
  it("a path outside the allowed directories gets the same answer whether it exists or not (no oracle)", async () => {
    const exists = path.join(outside, ".bashrc");
    const missing = path.join(outside, "does-not-exist");
    const a = await refusal(checkInputFile(exists, [allowed], "lab"));
    const b = await refusal(checkInputFile(missing, [allowed], "lab"));
    expect([a.code, a.status]).toEqual(["path_not_allowed", 403]);
    expect([b.code, b.status]).toEqual([a.code, a.status]);
    expect(b.message.replace(missing, "P")).toBe(a.message.replace(exists, "P"));
    const c = await refusal(prepareOutputDir(path.join(outside, "new-folder"), [allowed], "lab"));
    const d = await refusal(prepareOutputDir(outside, [allowed], "lab"));
    expect([c.code, d.code]).toEqual(["path_not_allowed", "path_not_allowed"]);
  });

  it("'..' that climbs out of an allowed directory is refused before anything is looked up", async () => {
    const error = await refusal(checkInputFile(`${allowed}/p1/../../home/.bashrc`, [allowed], "lab"));
    expect([error.code, error.status]).toEqual(["invalid_path", 400]);
    expect(error.message).toMatch(/must not contain '\.\.'/);
  });

  it("an input symlink inside the allowed directory to a file outside is refused, and nothing of it is shown", async () => {
    const link = path.join(allowed, "p1", "steal.jsonl");
    symlinkSync(path.join(outside, ".bashrc"), link);
    const error = await refusal(checkInputFile(link, [allowed], "lab"));
    expect([error.code, error.status]).toEqual(["path_not_allowed", 403]);
    expect(error.message).not.toContain("secret");
    // one that stays inside is refused too: the worker follows no symlink it did not make
    symlinkSync(path.join(allowed, "p1", "in.jsonl"), path.join(allowed, "p1", "alias.jsonl"));
    const inside = await refusal(checkInputFile(path.join(allowed, "p1", "alias.jsonl"), [allowed], "lab"));
    expect([inside.code, inside.status]).toEqual(["invalid_path", 400]);
    expect(inside.message).toMatch(/is a symbolic link/);
  });

  it("a symlinked folder on the way to an output folder is refused (the service makes nothing through it)", async () => {
    symlinkSync(outside, path.join(allowed, "p1", "out"));
    const error = await refusal(prepareOutputDir(path.join(allowed, "p1", "out", "results"), [allowed], "lab"));
    expect(error.code).toBe("path_not_allowed");
    expect(readdirSync(outside)).toEqual([".bashrc"]);
  });
});
