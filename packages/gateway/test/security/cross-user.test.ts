import { testDrivers } from "@switchyard/db/testing";
import type OpenAI from "openai";
import { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayHarness, startGatewayHarness } from "../harness";

const input = Buffer.from(
  `${JSON.stringify({
    custom_id: "a-1",
    method: "POST",
    url: "/v1/chat/completions",
    body: { model: "org/fast", messages: [{ role: "user", content: "private question" }], max_tokens: 4 },
  })}\n`,
);

function errorOf(error: unknown) {
  const e = error as InstanceType<typeof OpenAI.APIError>;
  return { status: e.status, code: e.code };
}

/**
 * Ids are not secrets: they show up in logs, screenshots and shared scripts. Knowing another
 * user's file or batch id must get a user nothing, not even whether it exists.
 */
const drivers = await testDrivers();

describe.each(drivers)("another user's file and batch ids on %s", (driver) => {
  let h: GatewayHarness;
  let owner: OpenAI;
  let stranger: OpenAI;
  let fileId: string;
  let batchId: string;

  beforeAll(async () => {
    h = await startGatewayHarness({ driver, waitFor: ["org/fast"], batches: {} });
    owner = h.client;
    stranger = (await h.addUser("eve")).client;
    fileId = (await owner.files.create({ file: await toFile(input, "mine.jsonl"), purpose: "batch" })).id;
    batchId = (
      await owner.batches.create({ input_file_id: fileId, endpoint: "/v1/chat/completions", completion_window: "24h" })
    ).id;
  });
  afterAll(async () => {
    await h?.close();
  });

  it("another user's file id is 404 to read, download, delete or run a batch over, like an id that does not exist", async () => {
    const missing = { status: 404, code: "file_not_found" };
    for (const id of [fileId, "file-000000000000000000000000"]) {
      expect(await stranger.files.retrieve(id).catch(errorOf), id).toEqual(missing);
      expect(await stranger.files.content(id).catch(errorOf), id).toEqual(missing);
      expect(await stranger.files.delete(id).catch(errorOf), id).toEqual(missing);
      const batch = await stranger.batches
        .create({ input_file_id: id, endpoint: "/v1/chat/completions", completion_window: "24h" })
        .catch(errorOf);
      expect(batch, id).toEqual(missing);
    }
    expect((await stranger.files.list()).data).toEqual([]);
    // The owner's file is untouched.
    expect((await owner.files.retrieve(fileId)).id).toBe(fileId);
    expect(await (await owner.files.content(fileId)).text()).toBe(input.toString());
  });

  it("another user's batch id is 404 to read or cancel, like an id that does not exist", async () => {
    const missing = { status: 404, code: "batch_not_found" };
    for (const id of [batchId, "batch_000000000000000000000000"]) {
      expect(await stranger.batches.retrieve(id).catch(errorOf), id).toEqual(missing);
      expect(await stranger.batches.cancel(id).catch(errorOf), id).toEqual(missing);
    }
    expect((await stranger.batches.list()).data).toEqual([]);
    expect((await owner.batches.retrieve(batchId)).status).not.toMatch(/cancel/);
  });
});
