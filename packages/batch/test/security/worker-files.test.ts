import { linkSync, mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Harness, startHarness, until, writeInput } from "./harness";

// What a user who can write in the output folder (or the input's folder) does between the
// batch's creation and the worker's opening of its files, or while the worker is down.

const PRECIOUS = "#!/bin/sh\necho precious\n";

let h: Harness;
let victim: string;
let folder: string;
let n = 0;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());
beforeEach(() => {
  folder = path.join(h.projects, `alice-${++n}`);
  mkdirSync(folder);
  victim = path.join(h.outside, `victim-${n}.sh`);
  writeFileSync(victim, PRECIOUS);
});

/** Run the batch until it fails or waits for its model with its outputs open; then stop it. */
async function runUntilSettled(id: string): Promise<string> {
  const run = h.run(id);
  let ended = false;
  void run.done.then(() => {
    ended = true;
  });
  let runningSince: number | undefined;
  await until(async () => {
    if (ended) return true;
    const { status, fileRefs } = await h.batch(id);
    if (status !== "in_progress") return false;
    runningSince ??= Date.now();
    return fileRefs?.results !== undefined || Date.now() - runningSince > 1500;
  });
  await run.stop();
  return (await h.batch(id)).status;
}

describe("the worker never follows a symlink it did not create", () => {
  it("results_file replaced by a symlink to a file outside is not truncated", async () => {
    const input = writeInput(path.join(folder, "in.jsonl"));
    const batch = await h.create(input);
    // The attacker knows the announced results_file: make its folder, and the file a symlink.
    mkdirSync(batch.dir);
    symlinkSync(victim, batch.results);
    const status = await runUntilSettled(batch.id);
    expect(readFileSync(victim, "utf8")).toBe(PRECIOUS);
    expect(status).toBe("failed");
    const { errors } = await h.batch(batch.id);
    expect(JSON.stringify(errors)).toMatch(/exists already/);
  });

  it("resume refuses a swapped output file (its folder replaced while the worker was down)", async () => {
    const input = writeInput(path.join(folder, "in.jsonl"));
    const batch = await h.create(input);
    expect(await runUntilSettled(batch.id)).toBe("in_progress");
    // The worker stopped at a checkpoint. The attacker moves the batch's folder away and puts
    // their own in its place, the results file a hard link to (or symlink at) another file.
    renameSync(batch.dir, `${batch.dir}.moved`);
    mkdirSync(batch.dir);
    linkSync(victim, batch.results);
    const status = await runUntilSettled(batch.id);
    expect(readFileSync(victim, "utf8")).toBe(PRECIOUS);
    expect(status).toBe("failed");
    expect(JSON.stringify((await h.batch(batch.id)).errors)).toMatch(/was replaced since the batch was created/);
  });

  it("an input swapped for a symlink to another file after the batch was created is not read", async () => {
    const input = writeInput(path.join(folder, "in.jsonl"));
    const batch = await h.create(input);
    const secret = writeInput(path.join(h.outside, "secret.jsonl"), 2, 0o600);
    renameSync(input, `${input}.old`);
    symlinkSync(secret, input);
    expect(await runUntilSettled(batch.id)).toBe("failed");
    const { errors } = await h.batch(batch.id);
    expect(JSON.stringify(errors)).toMatch(/symbolic link/);
    expect(JSON.stringify(errors)).not.toContain("req-");
  });
});
