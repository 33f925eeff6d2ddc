import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { OutputFile, WRITE_BEHIND_BYTES } from "../../src/output";
import { openRoot } from "../../src/safe-fs";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function outputFile() {
  const dir = mkdtempSync(path.join(tmpdir(), "sy-output-"));
  dirs.push(dir);
  const file = path.join(dir, "out.results.jsonl");
  const output = new OutputFile(await openRoot(dir), "out.results.jsonl", file);
  await output.openAt(0, undefined);
  return { output, read: () => readFileSync(file, "utf8") };
}

describe("an output file", () => {
  it("writes big buffers behind, before any checkpoint, and a sync reports the length at its cut", async () => {
    const { output, read } = await outputFile();
    const line = "x".repeat(1023);
    for (let i = 0; i < WRITE_BEHIND_BYTES / 1024; i++) output.append(line);
    expect(output.bufferedBytes).toBe(0); // handed to the file, not held until the checkpoint
    output.append("tail");
    const cut = output.sync();
    output.append("after the cut");
    expect(await cut).toBe(WRITE_BEHIND_BYTES + 5);
    expect(read().endsWith("tail\n")).toBe(true);
    expect(await output.sync()).toBe(WRITE_BEHIND_BYTES + 5 + 14);
    await output.close();
  });

  it("fails every sync after a write failed, so no checkpoint skips over the lost lines", async () => {
    const { output } = await outputFile();
    output.append("a");
    await output.close(); // the handle is gone: the next write fails
    output.append("b");
    await expect(output.sync()).rejects.toThrow("is not open");
    await expect(output.sync()).rejects.toThrow("is not open");
  });
});
