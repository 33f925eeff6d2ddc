import type { BatchStatus } from "@switchyard/core";
import { testDrivers } from "@switchyard/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError, type Harness, startHarness } from "./harness";

const drivers = await testDrivers();

type Caller = Awaited<ReturnType<Harness["as"]>>;

/** Batches through the control plane: rows as the HTTP API leaves them (no worker runs here). */
describe.each(drivers)("batches through the control plane on %s", (driver) => {
  let h: Harness;
  let admin: Caller;
  let ada: Caller;
  let grace: Caller;
  let seq = 0;

  async function batch(username: string, status: BatchStatus, counts = { total: 100, completed: 40, failed: 2 }) {
    const user = await h.db.prisma.user.findUniqueOrThrow({ where: { username } });
    const id = `batch_${(++seq).toString(16).padStart(8, "0")}`;
    await h.db.prisma.batch.create({
      data: {
        id,
        userId: user.id,
        api: "openai",
        clusterName: "lab",
        framework: "vllm",
        model: "org/hot",
        endpoint: "/v1/chat/completions",
        status,
        inputFileId: `file-${seq}`,
        inputPath: `/tmp/in-${seq}.jsonl`,
        totalCount: counts.total,
        completedCount: counts.completed,
        failedCount: counts.failed,
        createdAt: new Date(Date.now() - 60_000 + seq * 1000),
      },
    });
    return id;
  }

  beforeAll(async () => {
    h = await startHarness(driver, { batches: true });
    [admin, ada, grace] = await Promise.all([h.as(h.tokens.admin), h.as(h.tokens.user), h.as(h.tokens.member)]);
  });
  afterAll(() => h?.close());

  it("lists a user's own batches, newest first, with owner and counts; an admin sees everyone's and filters", async () => {
    const adaRunning = await batch("ada", "in_progress");
    const adaDone = await batch("ada", "completed", { total: 10, completed: 10, failed: 0 });
    const graceRunning = await batch("grace", "in_progress");

    const own = await ada.batches.list();
    expect(own.map((b) => b.id)).toEqual([adaDone, adaRunning]);
    expect(own[1]).toMatchObject({
      id: adaRunning,
      object: "batch",
      owner: "ada",
      api: "openai",
      cluster: "lab",
      model: "org/hot",
      status: "in_progress",
      request_counts: { total: 100, completed: 40, failed: 2 },
      resultsFile: null,
    });
    expect((await grace.batches.list()).map((b) => b.id)).toEqual([graceRunning]);

    const everyone = await admin.batches.list();
    expect(everyone.map((b) => b.id)).toEqual([graceRunning, adaDone, adaRunning]);
    expect((await admin.batches.list({ user: "ada" })).map((b) => b.id)).toEqual([adaDone, adaRunning]);
    expect((await admin.batches.list({ status: "active" })).map((b) => b.id)).toEqual([graceRunning, adaRunning]);
    expect((await admin.batches.list({ user: "grace", status: "completed" })).length).toBe(0);
    expect((await ada.batches.list({ user: "ada", status: "completed" })).map((b) => b.id)).toEqual([adaDone]);
    expect((await admin.batches.list({ limit: 1 })).length).toBe(1);

    await expectError(ada.batches.list({ user: "grace" }), "FORBIDDEN", { switchyard: "admin_required" });
    await expectError(admin.batches.list({ user: "nobody" }), "NOT_FOUND", { switchyard: "resource_not_found" });
  });

  it("reads one batch: one's own or, for an admin, anyone's; someone else's is 404", async () => {
    const id = await batch("grace", "in_progress");
    expect(await grace.batches.get({ id })).toMatchObject({ id, owner: "grace", status: "in_progress" });
    expect(await admin.batches.get({ id })).toMatchObject({ id, owner: "grace" });
    await expectError(ada.batches.get({ id }), "NOT_FOUND", { switchyard: "batch_not_found" });
    await expectError(ada.batches.get({ id: "batch_doesnotexist" }), "NOT_FOUND", { switchyard: "batch_not_found" });
  });

  it("lets the owner cancel, never someone else; an admin cancels anyone's, and each cancel is audited", async () => {
    const id = await batch("grace", "in_progress");
    await expectError(ada.batches.cancel({ id }), "NOT_FOUND", { switchyard: "batch_not_found" });
    expect((await grace.batches.get({ id })).status).toBe("in_progress");

    const cancelled = await admin.batches.cancel({ id });
    expect(cancelled).toMatchObject({ id, owner: "grace", status: "cancelling" });
    expect(cancelled.cancelling_at).toEqual(expect.any(Number));
    // Twice is harmless.
    expect((await admin.batches.cancel({ id })).status).toBe("cancelling");

    const own = await batch("ada", "validating");
    expect((await ada.batches.cancel({ id: own })).status).toBe("cancelling");

    const entries = (await admin.audit.list({ action: "batches.cancel" })).entries;
    expect(entries.map((e) => [e.actor.username, e.target.id])).toEqual([
      ["ada", own],
      ["root", id],
      ["root", id],
    ]);
    expect(entries.at(-1)?.details).toMatchObject({ owner: "grace", from: "in_progress", status: "cancelling" });
  });

  it("answers 409 for a batch that already ended, and 400 naming the field for bad input", async () => {
    const done = await batch("ada", "completed");
    await expectError(ada.batches.cancel({ id: done }), "CONFLICT", { switchyard: "batch_state_conflict" });
    await expectError(ada.batches.cancel({ id: "not-a-batch" }), "BAD_REQUEST", {
      switchyard: "invalid_field",
      message: /'id'/,
    });
    await expectError(ada.batches.list({ status: "sleeping" } as never), "BAD_REQUEST", { message: /'status'/ });
    await expectError(ada.batches.get({ id: done, extra: 1 } as never), "BAD_REQUEST", { message: /extra/ });
  });
});

describe.each(drivers)("batches when this server does not serve them, on %s", (driver) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(driver);
  });
  afterAll(() => h?.close());

  it("lists none, and any id is 404", async () => {
    const admin = await h.as(h.tokens.admin);
    expect(await admin.batches.list()).toEqual([]);
    await expectError(admin.batches.get({ id: "batch_0001" }), "NOT_FOUND", { switchyard: "batch_not_found" });
    await expectError(admin.batches.cancel({ id: "batch_0001" }), "NOT_FOUND", { switchyard: "batch_not_found" });
  });
});
