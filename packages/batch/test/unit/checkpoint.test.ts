import { afterAll, describe, expect, it } from "vitest";
import { Checkpoints, interruptionAfterCheckpoint } from "../../src/run/checkpoint";
import { OutputLines } from "../../src/run/output-lines";
import { Progress } from "../../src/run/progress";
import { closeSharedDatabase, FakeSink, outcome, type RunWorld, runWorld } from "./fakes";

afterAll(closeSharedDatabase);

function checkpoints(w: RunWorld) {
  const results = new FakeSink();
  const errors = new FakeSink();
  const output = new OutputLines(results, errors, w.res.counts, 0);
  return { results, errors, output, checkpoints: new Checkpoints(w.res, output, new Progress(w.res, () => undefined)) };
}

describe("what a checkpoint decides", () => {
  const now = Date.UTC(2026, 0, 2);
  it.each([
    ["in_progress", null, undefined],
    ["in_progress", new Date(now + 1), undefined],
    ["in_progress", new Date(now), "expire"],
    ["cancelling", new Date(now - 1), "cancel"],
    ["completed", null, "lost"],
    [undefined, null, "lost"],
  ] as const)("row %s, expiring %s -> %s", (status, expiresAt, expected) => {
    expect(interruptionAfterCheckpoint(status, expiresAt, now)).toBe(expected);
  });
});

describe("Checkpoints", () => {
  it("syncs the files, then saves the line they end at, their lengths and the counts", async () => {
    const w = await runWorld("in_progress");
    const { output, results, errors, checkpoints: c } = checkpoints(w);
    output.finish(0, outcome("a", true, 4));
    output.finish(1, outcome("b", false));
    output.finish(3, outcome("d"));
    output.advance();
    await c.save();
    expect(results.synced).toEqual(["a"]);
    expect(errors.synced).toEqual(["b"]);
    expect(await w.row()).toMatchObject({
      cursorLine: 2,
      resultsBytes: 2n,
      errorsBytes: 2n,
      completedCount: 1,
      failedCount: 1,
      promptTokens: 4n,
      workerId: "worker-1",
      leaseUntil: new Date(w.clock.now() + 60_000),
    });
    expect(w.res.interrupts.reason).toBeUndefined();
  });

  it("takes up a cancel made through the API, and stops writing once the batch is not its own", async () => {
    const w = await runWorld("in_progress");
    const { checkpoints: c } = checkpoints(w);
    await w.store.transition(w.res.batch.id, "in_progress", "cancelling");
    await c.save();
    expect(w.res.interrupts.reason).toBe("cancel");
    await w.store.transition(w.res.batch.id, "cancelling", "cancelled");
    await c.save();
    expect(w.res.interrupts.reason).toBe("lost");
  });

  it("expires the batch at its checkpoint once past its window", async () => {
    const w = await runWorld("in_progress", { expiresAt: new Date(Date.UTC(2026, 0, 1, 0, 5)) });
    const { checkpoints: c } = checkpoints(w);
    await c.save();
    expect(w.res.interrupts.reason).toBeUndefined();
    w.clock.advance(5 * 60_000);
    await c.save();
    expect(w.res.interrupts.reason).toBe("expire");
  });

  it("writes nothing once the lock is lost", async () => {
    const w = await runWorld("in_progress");
    const { output, results, checkpoints: c } = checkpoints(w);
    output.finish(0, outcome("a"));
    output.advance();
    w.res.interrupts.interrupt("lost");
    await c.save();
    expect(results.synced).toEqual([]);
    expect((await w.row()).cursorLine).toBe(0);
  });

  it("settles: the final status with the synced output and its lines' usage, or false (and no usage) when the batch moved on", async () => {
    const w = await runWorld("in_progress");
    const { output, results, checkpoints: c } = checkpoints(w);
    const id = w.res.batch.id;
    const usage = (n: number) => ({ at: w.clock.now(), requestId: `${id}-${n}`, status: 200, latencyMs: 4 });
    const charged = async () =>
      (await w.db.prisma.usageRecord.findMany({ where: { requestId: { startsWith: `${id}-` } } })).map(
        (r) => r.requestId,
      );
    output.finish(0, { ...outcome("a", true, 3), usage: usage(0) });
    output.advance();
    expect(await c.settle(["in_progress"], "finalizing", { finalizingAt: new Date(w.clock.now()) })).toBe(true);
    expect(results.synced).toEqual(["a"]);
    expect(w.res.batch.status).toBe("finalizing");
    expect(await w.row()).toMatchObject({ status: "finalizing", cursorLine: 1, resultsBytes: 2n, completedCount: 1 });
    // In the same transaction as the status: a process dying right after it loses no usage.
    expect(await charged()).toEqual([`${id}-0`]);
    output.finish(1, { ...outcome("b"), usage: usage(1) });
    output.advance();
    expect(await c.settle(["in_progress"], "finalizing", {})).toBe(false);
    expect(await charged()).toEqual([`${id}-0`]); // the run that lost the race charges nothing
  });

  it("stops the run when a checkpoint fails, to resume from the last good one", async () => {
    const w = await runWorld("in_progress");
    const { results, checkpoints: c } = checkpoints(w);
    results.sync = async () => {
      throw new Error("disk full");
    };
    c.queue();
    await c.settled();
    expect(w.res.interrupts.reason).toBe("stop");
  });
});
