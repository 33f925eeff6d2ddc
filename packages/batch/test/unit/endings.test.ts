import { afterAll, describe, expect, it } from "vitest";
import type { InputLine } from "../../src/lines";
import { Checkpoints } from "../../src/run/checkpoint";
import { Endings, type OpenRun } from "../../src/run/endings";
import { RunFiles } from "../../src/run/open-files";
import { LineFormat, OutputLines } from "../../src/run/output-lines";
import { Progress } from "../../src/run/progress";
import { closeSharedDatabase, FakeSink, outcome, type RunWorld, runWorld } from "./fakes";

afterAll(closeSharedDatabase);

function ending(w: RunWorld, written = 0) {
  const results = new FakeSink();
  const errors = new FakeSink();
  const output = new OutputLines(results, errors, w.res.counts, written);
  const progress = new Progress(w.res, () => undefined);
  const run: OpenRun = { output, checkpoints: new Checkpoints(w.res, output, progress), format: new LineFormat() };
  return { results, errors, output, run, endings: new Endings(w.res, new RunFiles(w.res), progress) };
}

async function* input(...customIds: string[]): AsyncGenerator<InputLine> {
  let line = 100;
  for (const id of customIds) yield { line: line++, text: JSON.stringify({ custom_id: id }) } as InputLine;
}

const codeOf = (line: string) => (JSON.parse(line) as { custom_id: string; error: { code: string } }).error.code;

describe("endings", () => {
  it("completes through finalizing with everything written", async () => {
    const w = await runWorld("in_progress");
    const { output, run, endings, results } = ending(w);
    output.finish(0, outcome("a"));
    output.advance();
    await endings.finalize(run);
    expect(results.synced).toEqual(["a"]);
    expect(await w.row()).toMatchObject({ status: "completed", cursorLine: 1, completedCount: 1 });
    expect((await w.row()).finalizingAt).not.toBeNull();
  });

  it("cancels instead when a cancel reached the row before finalizing", async () => {
    const w = await runWorld("in_progress");
    const { output, run, endings } = ending(w);
    await w.store.transition(w.res.batch.id, "in_progress", "cancelling");
    output.finish(0, outcome("a"));
    output.advance();
    await endings.finalize(run);
    expect(await w.row()).toMatchObject({ status: "cancelled", cursorLine: 1 });
  });

  it("cancelled: keeps every answer received, in input order, and drops what was in flight", async () => {
    const w = await runWorld("cancelling");
    const { output, run, endings, results, errors } = ending(w);
    for (let i = 0; i < 4; i++) output.start(i, `q${i}`);
    output.finish(3, outcome("d"));
    output.finish(2, outcome("c", false));
    output.finish(1, outcome("b"));
    await endings.finishCancelled(run);
    expect(results.synced).toEqual(["b", "d"]);
    expect(errors.synced).toEqual(["c"]);
    expect(await w.row()).toMatchObject({ status: "cancelled", completedCount: 2, failedCount: 1 });
  });

  it("expired: answers are kept, started and unread lines go to the errors file as batch_expired, in order", async () => {
    const w = await runWorld("in_progress");
    const { output, run, endings, results, errors } = ending(w, 10);
    for (let i = 10; i < 14; i++) output.start(i, `q${i}`);
    output.finish(11, outcome("answer-11"));
    output.finish(13, outcome("failed-13", false));
    await endings.finishExpired(run, 14, input("q14", "q15"));
    expect(results.synced).toEqual(["answer-11"]);
    expect(
      errors.synced.map((line) => (line.startsWith("{") ? `${codeOf(line)}:${JSON.parse(line).custom_id}` : line)),
    ).toEqual(["batch_expired:q10", "batch_expired:q12", "failed-13", "batch_expired:q14", "batch_expired:q15"]);
    expect(await w.row()).toMatchObject({ status: "expired", cursorLine: 16, completedCount: 1, failedCount: 5 });
  });

  it("fails an active batch with the reason as its error, and leaves an ended one alone", async () => {
    const w = await runWorld("finalizing");
    await ending(w).endings.fail("its files cannot be used safely: moved");
    expect(await w.row()).toMatchObject({
      status: "failed",
      errors: [{ code: "batch_failed", message: "its files cannot be used safely: moved", param: null, line: null }],
    });
    const ended = await runWorld("completed");
    await ending(ended).endings.fail("late");
    expect((await ended.row()).status).toBe("completed");
  });

  it("finishes a cancel found at start with no output folder yet", async () => {
    const w = await runWorld("cancelling");
    await ending(w).endings.recoverCancelled();
    expect((await w.row()).status).toBe("cancelled");
  });
});
