import { afterAll, describe, expect, it } from "vitest";
import { BatchUsageRows } from "../../src/usage";
import { closeSharedDatabase, runWorld } from "./fakes";

afterAll(closeSharedDatabase);

describe("BatchStore", () => {
  it("moves a status by compare-and-set: of two racing moves from in_progress, one wins", async () => {
    const w = await runWorld("in_progress");
    const id = w.res.batch.id;
    const [finalizing, cancelling] = await Promise.all([
      w.store.transition(id, "in_progress", "finalizing"),
      w.store.transition(id, ["validating", "in_progress"], "cancelling"),
    ]);
    expect([finalizing, cancelling].filter(Boolean)).toHaveLength(1);
    expect((await w.row()).status).toBe(finalizing ? "finalizing" : "cancelling");
    // From a status it is no longer in: nothing happens.
    expect(await w.store.transition(id, "in_progress", "failed")).toBe(false);
  });

  it("writes the fields with the status, in the same UPDATE", async () => {
    const w = await runWorld("finalizing");
    const at = new Date(w.clock.now());
    expect(
      await w.store.transition(w.res.batch.id, "finalizing", "completed", { completedAt: at, outputFileId: "f" }),
    ).toBe(true);
    expect(await w.row()).toMatchObject({ status: "completed", completedAt: at, outputFileId: "f" });
  });

  it("refuses a move the transitions table does not allow, before touching the row", async () => {
    const w = await runWorld("in_progress");
    await expect(w.store.transition(w.res.batch.id, "in_progress", "completed")).rejects.toThrow(
      "a batch cannot go from in_progress to completed",
    );
    await expect(w.store.transition(w.res.batch.id, ["completed", "in_progress"], "cancelled")).rejects.toThrow(
      "from completed to cancelled",
    );
    expect((await w.row()).status).toBe("in_progress");
  });

  it("saves a checkpoint only while the batch runs or is cancelling, and says its status; usage only with it", async () => {
    const w = await runWorld("cancelling");
    const id = w.res.batch.id;
    const row = {
      cursorLine: 7,
      resultsBytes: 70,
      errorsBytes: 7,
      completed: 6,
      failed: 1,
      promptTokens: 60,
      completionTokens: 30,
      leaseUntil: new Date(w.clock.now() + 60_000),
      workerId: "worker-1",
    };
    const lines = (...ids: string[]) => {
      const rows = new BatchUsageRows();
      for (const requestId of ids) rows.add({ at: w.clock.now(), requestId, status: 200, latencyMs: 3 }, 10, 5);
      return rows;
    };
    const charged = async () =>
      (await w.db.prisma.usageRecord.findMany({ where: { requestId: { startsWith: `${id}-` } } })).map(
        (r) => r.requestId,
      );
    expect(await w.store.checkpoint(id, row, lines(`${id}-1`, `${id}-2`), w.res.batch)).toBe("cancelling");
    expect(await w.row()).toMatchObject({ cursorLine: 7, resultsBytes: 70n, completedCount: 6, workerId: "worker-1" });
    expect(await charged()).toEqual([`${id}-1`, `${id}-2`]);
    // Each line is accounted as the user's own request would be: no key, not streamed, no
    // first-token time, on /v1/batches, charged to the batch's project.
    const first = await w.db.prisma.usageRecord.findFirst({ where: { requestId: `${id}-1` } });
    expect(first).toMatchObject({
      at: new Date(w.clock.now()),
      userId: w.res.batch.userId,
      apiKeyId: null,
      model: w.res.batch.model,
      clusterName: w.res.batch.clusterName,
      route: "/v1/batches",
      status: 200,
      promptTokens: 10,
      completionTokens: 5,
      latencyMs: 3,
      ttftMs: null,
      stream: false,
      projectId: w.res.batch.projectId ?? null,
    });
    await w.store.transition(id, "cancelling", "cancelled");
    // No longer this run's: neither the checkpoint nor its lines' usage is saved.
    expect(await w.store.checkpoint(id, { ...row, cursorLine: 9 }, lines(`${id}-3`), w.res.batch)).toBeUndefined();
    expect((await w.row()).cursorLine).toBe(7);
    expect(await charged()).toEqual([`${id}-1`, `${id}-2`]);
  });
});
