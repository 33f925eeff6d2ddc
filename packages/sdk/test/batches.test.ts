import { appendFileSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import {
  BatchListSchema,
  BatchObjectSchema,
  BatchOutputLineSchema,
  FileObjectSchema,
  ReferenceBatchDetailSchema,
  ReferenceBatchResultSchema,
} from "@switchyard/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type BatchObject,
  type BatchOutputLine,
  ConflictError,
  NotFoundError,
  PermissionDeniedError,
  Switchyard,
  SwitchyardSDKError,
  withBatchModel,
} from "../src/node";
import { batchLine, freshHome, removeTempDirs, type SdkServer, startSdkServer, writeBatchFile } from "./harness";

const ids = (n: number) => Array.from({ length: n }, (_, i) => `req-${i}`);

async function collect<T>(lines: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const line of lines) all.push(line);
  return all;
}

/** The library's files and batches against a real server whose simulators run the batches. */
describe("files and batches in the library", () => {
  let h: SdkServer;
  let client: Switchyard;

  beforeAll(async () => {
    h = await startSdkServer({ models: "batch" });
    client = new Switchyard({ baseURL: h.url, apiKey: h.adaKey, tokenStore: freshHome().tokenFile, env: {} });
  });
  afterAll(async () => {
    await h?.close();
    removeTempDirs();
  });

  it("uploads a file from disk, runs a batch through the OpenAI API, reports progress while waiting", async () => {
    const input = writeBatchFile(
      ids(300).map((_, i) => batchLine(i, "org/paced")),
      "questions.jsonl",
    );
    const uploadProgress: number[] = [];
    const file = await client.files.upload(input, {
      purpose: "batch",
      onProgress: (p) => uploadProgress.push(p.sentBytes),
    });
    expect(FileObjectSchema.parse(file)).toMatchObject({
      object: "file",
      purpose: "batch",
      filename: "questions.jsonl",
      bytes: statSync(input).size,
    });
    expect(uploadProgress.at(-1)).toBe(statSync(input).size);
    expect(await client.files.retrieve(file.id)).toEqual(file);
    // The server kept exactly the bytes on disk.
    expect(await (await client.files.content(file.id)).text()).toBe(readFileSync(input, "utf8"));

    const batch = await client.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions" });
    expect(BatchObjectSchema.parse(batch)).toMatchObject({
      status: "validating",
      model: "org/paced",
      completion_window: "24h",
      input_file_id: file.id,
    });

    const seen: BatchObject[] = [];
    const done = await client.batches.wait(batch.id, { intervalMs: 150, onProgress: (b) => seen.push(b) });
    expect(done.status).toBe("completed");
    expect(done.request_counts).toEqual({ total: 300, completed: 300, failed: 0 });
    // Told along the way, not only at the end, and the counts never go backwards.
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.some((b) => b.status !== "completed")).toBe(true);
    expect(seen.at(-1)).toEqual(done);
    const finished = seen.map((b) => b.request_counts.completed + b.request_counts.failed);
    expect(finished).toEqual([...finished].sort((a, b) => a - b));

    const results = await collect(client.batches.results(done));
    expect(results.map((r) => r.custom_id)).toEqual(ids(300));
    expect(BatchOutputLineSchema.parse(results[0])).toMatchObject({
      response: { status_code: 200, body: { object: "chat.completion", model: "org/paced" } },
      error: null,
    });
    expect(await collect(client.batches.results(done.id, { errors: true }))).toEqual([]);
    expect(BatchListSchema.parse(await client.batches.list()).data.map((b) => b.id)).toContain(batch.id);
    expect((await client.files.list({ purpose: "batch" })).data.map((f) => f.id)).toContain(file.id);
    expect(await client.files.delete(file.id)).toEqual({ id: file.id, object: "file", deleted: true });
  });

  it("streams an upload: the client never holds the file in memory", async () => {
    // 48 MB of request lines; a client that buffered the body (as fetch does when it may have to
    // replay it on a redirect) would hold all of it by the end of the upload.
    const line = `${batchLine(0, "org/batchy", { user: "x".repeat(900) })}\n`;
    const input = writeBatchFile([], "big.jsonl");
    writeFileSync(input, line.repeat(Math.ceil(48e6 / line.length)));
    const size = statSync(input).size;
    setFlagsFromString("--expose-gc");
    // V8 frees array buffers on a background thread after a collection; on a busy machine a
    // reading taken right after gc() still counted buffers already dead (seen: 30 MB of a 48 MB
    // upload). Sweeping them on the main thread makes each reading exact.
    setFlagsFromString("--no-concurrent-array-buffer-sweeping");
    const gc = runInNewContext("gc") as () => void;
    gc();
    const base = process.memoryUsage().arrayBuffers;
    // Read at a quarter, half and three quarters of the way: a client holding what it sent
    // would hold 12, 24 and 36 MB there. Four full collections, not one every few ms.
    const marks = [0.25, 0.5, 0.75].map((f) => f * size);
    const readings: number[] = [];
    const file = await client.files.upload(input, {
      purpose: "batch",
      onProgress: ({ sentBytes }) => {
        if (marks.length > 0 && sentBytes >= (marks[0] as number)) {
          marks.shift();
          gc();
          readings.push(process.memoryUsage().arrayBuffers - base);
        }
      },
    });
    expect(file.bytes).toBe(size);
    await client.files.delete(file.id);
    expect(readings).toHaveLength(3);
    // What the server (in this process too) buffers on its way to disk is counted here as well.
    const peak = Math.max(...readings);
    expect(peak).toBeLessThan(size / 2);
  });

  it("uploads a stream rewritten on the fly: withBatchModel fills in body.model, line numbers kept", async () => {
    const input = writeBatchFile([batchLine(0, null), "", batchLine(1, "someone/else"), batchLine(2, null)]);
    const file = await client.files.upload(
      { filename: "no-models.jsonl", content: () => withBatchModel(createReadStreamOf(input), "batchy") },
      { purpose: "batch" },
    );
    const uploaded = (await (await client.files.content(file.id)).text()).split("\n");
    expect(uploaded).toHaveLength(5); // 4 lines (one blank) and the final newline
    expect(uploaded[1]).toBe("");
    expect(uploaded.filter(Boolean).map((l) => JSON.parse(l).body.model)).toEqual(["batchy", "batchy", "batchy"]);
    const batch = await client.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions" });
    const done = await client.batches.wait(batch.id, { intervalMs: 100 });
    expect([done.status, done.model, done.request_counts.completed]).toEqual(["completed", "org/batchy", 3]);
  });

  it("keeps a file name that is not ASCII, from a path, a stream and a Blob", async () => {
    const lines = [batchLine(0, "org/batchy"), batchLine(1, "org/batchy")];
    const input = writeBatchFile(lines, "frågor v2 問題.jsonl");
    const text = readFileSync(input, "utf8");
    const fromPath = await client.files.upload(input, { purpose: "batch" });
    const fromStream = await client.files.upload(
      { filename: "données.jsonl", content: () => createReadStreamOf(input) },
      { purpose: "batch" },
    );
    const fromBlob = await client.files.upload(new File([text], "ünïcode.jsonl"), { purpose: "batch" });
    expect([fromPath.filename, fromStream.filename, fromBlob.filename]).toEqual([
      "frågor v2 問題.jsonl",
      "données.jsonl",
      "ünïcode.jsonl",
    ]);
    for (const file of [fromPath, fromStream, fromBlob]) {
      expect(file.bytes).toBe(Buffer.byteLength(text));
      expect(await (await client.files.content(file.id)).text()).toBe(text);
    }
    // The download names it too: an ASCII stand-in, and the name itself as RFC 6266's filename*.
    expect((await client.files.content(fromPath.id)).headers.get("content-disposition")).toBe(
      `attachment; filename="fr_gor v2 __.jsonl"; filename*=UTF-8''${encodeURIComponent("frågor v2 問題.jsonl")}`,
    );
  });

  it("fails an upload whose file changes meanwhile with what happened, not as a broken connection", async () => {
    const line = `${batchLine(0, "org/batchy", { user: "x".repeat(900) })}\n`;
    const input = writeBatchFile([], "growing.jsonl");
    writeFileSync(input, line.repeat(2000)); // 2 MB: read in many chunks
    let appended = false;
    const error = await client.files
      .upload(input, {
        purpose: "batch",
        onProgress: ({ sentBytes }) => {
          if (sentBytes > 0 && !appended) {
            appended = true;
            appendFileSync(input, line);
          }
        },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SwitchyardSDKError);
    expect((error as Error).message).toBe(
      `${input} changed while it was being uploaded; nothing was stored. Upload it again once it is written.`,
    );
    expect((await client.files.list({ purpose: "batch" })).data.map((f) => f.filename)).not.toContain("growing.jsonl");
  });

  it("uploads a Blob as a FormData that fetch sends itself where request streams are not sent (a browser)", async () => {
    const core = await import("../src/index");
    const bodies: string[] = [];
    const browserish = new core.Switchyard({
      baseURL: h.url,
      apiKey: h.adaKey,
      fetch: (url, init) => {
        bodies.push(init?.body instanceof FormData ? "form" : typeof init?.body);
        return fetch(url, init);
      },
    });
    const text = `${batchLine(0, "org/batchy")}\n`;
    const progress: [number, number | undefined][] = [];
    const file = await browserish.files.upload(new File([text], "picked.jsonl"), {
      purpose: "batch",
      onProgress: (p) => progress.push([p.sentBytes, p.totalBytes]),
    });
    expect(bodies).toEqual(["form"]);
    expect([file.filename, file.bytes]).toEqual(["picked.jsonl", text.length]);
    expect(progress).toEqual([
      [0, text.length],
      [text.length, text.length],
    ]);
    expect(await (await browserish.files.content(file.id)).text()).toBe(text);
  });

  it("returns a rejected batch with its line-numbered errors (not thrown), and nothing ran", async () => {
    const input = writeBatchFile([
      batchLine(0),
      "{not json",
      JSON.stringify({ method: "POST", url: "/v1/chat/completions", body: { model: "org/batchy", messages: [] } }),
      batchLine(0),
    ]);
    const file = await client.files.upload(input, { purpose: "batch" });
    const batch = await client.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions" });
    const failed = await client.batches.wait(batch.id, { intervalMs: 100 });
    expect(failed.status).toBe("failed");
    expect(failed.errors?.data.map((e) => [e.line, e.code, e.param])).toEqual([
      [2, "invalid_json_line", null],
      [3, "invalid_request_line", "custom_id"],
      [4, "duplicate_custom_id", "custom_id"],
    ]);
    expect(failed.request_counts.completed).toBe(0);
    expect(await collect(client.batches.results(failed))).toEqual([]);
  });

  it("runs a batch through the reference API from a file on shared storage", async () => {
    const input = writeBatchFile(
      ids(50).map((_, i) => batchLine(i)),
      "prompts.jsonl",
      h.shared,
    );
    const created = await client.batches.reference.create(
      { model: "org/batchy", input_file: input },
      { cluster: "lab", framework: "vllm" },
    );
    expect(ReferenceBatchDetailSchema.parse(created)).toMatchObject({
      cluster: "lab",
      framework: "vllm",
      input_file: input,
      status: "pending",
    });
    const progress: number[] = [];
    const done = await client.batches.wait(created.batch_id, {
      intervalMs: 100,
      onProgress: (b) => progress.push(b.request_counts.completed),
    });
    expect([done.status, done.request_counts]).toEqual(["completed", { total: 50, completed: 50, failed: 0 }]);
    expect(progress.length).toBeGreaterThanOrEqual(1);

    const detail = await client.batches.reference.retrieve(created.batch_id);
    expect(detail).toMatchObject({ status: "completed", detailed_status: "completed", model: "org/batchy" });
    expect((await client.batches.reference.list({ status: "completed" })).map((b) => b.batch_id)).toContain(
      created.batch_id,
    );
    expect(await client.batches.reference.list({ status: "running" })).toEqual([]);
    const result = ReferenceBatchResultSchema.parse(await client.batches.reference.result(created.batch_id));
    expect(result.metrics).toMatchObject({ num_responses: 50, lines_processed: 50 });
    const answers = readFileSync(result.results_file, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as BatchOutputLine);
    expect(answers.map((a) => a.custom_id)).toEqual(ids(50));
    // Its results are files on the server, not downloads: the library says where to look.
    await expect(collect(client.batches.results(done))).rejects.toThrow(/reference API.*shared storage/);
  });

  it("cancels a running batch through either API; what was answered is kept", async () => {
    const input = writeBatchFile(
      ids(120).map((_, i) => batchLine(i, "org/slow", { max_tokens: 20 })),
      "slow.jsonl",
      h.shared,
    );
    const created = await client.batches.reference.create({ model: "org/slow", input_file: input });
    await client.batches.wait(created.batch_id, {
      intervalMs: 100,
      timeoutMs: 30_000,
      // Stop waiting (by cancelling) once a few answers are in.
      onProgress: (b) => {
        if (b.request_counts.completed >= 3 && b.status === "in_progress")
          void client.batches.cancel(b.id).catch(() => {});
      },
    });
    const final = await client.batches.retrieve(created.batch_id);
    expect(final.status).toBe("cancelled");
    expect(final.request_counts.completed).toBeGreaterThanOrEqual(3);
    expect(final.request_counts.completed).toBeLessThan(120);
    const again = await client.batches.reference.cancel(created.batch_id);
    expect(again.status).toBe("cancelled");

    const file = await client.files.upload(input, { purpose: "batch" });
    const batch = await client.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions" });
    await client.batches.wait(batch.id, {
      intervalMs: 100,
      onProgress: (b) => {
        if (b.status === "in_progress" && b.request_counts.completed >= 2)
          void client.batches.cancel(b.id).catch(() => {});
      },
    });
    const cancelled = await client.batches.retrieve(batch.id);
    expect(cancelled.status).toBe("cancelled");
    const kept = await collect(client.batches.results(cancelled));
    expect(kept.length).toBe(cancelled.request_counts.completed);
    expect(new Set(kept.map((k) => k.custom_id)).size).toBe(kept.length);
  });

  it("throws the catalogue's errors: unknown batch 404, an ended batch's cancel 409, a non-batch model 422", async () => {
    const missing = await client.batches.retrieve("batch_nope").catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing).toMatchObject({ status: 404, code: "batch_not_found" });
    await expect(client.files.retrieve("file-nope")).rejects.toMatchObject({ status: 404, code: "file_not_found" });

    const done = (await client.batches.list({ limit: 100 })).data.find((b) => b.status === "completed");
    const conflict = await client.batches.cancel(done!.id).catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(ConflictError);
    expect(conflict).toMatchObject({ status: 409, code: "batch_state_conflict" });

    const chatOnly = writeBatchFile([batchLine(0, "org/chatonly")]);
    const file = await client.files.upload(chatOnly, { purpose: "batch" });
    await expect(
      client.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions" }),
    ).rejects.toMatchObject({ status: 422, code: "capability_not_supported" });

    const outside = path.join(path.dirname(h.shared), "outside.jsonl");
    writeFileSync(outside, `${batchLine(0)}\n`);
    const refused = await client.batches.reference.create({ model: "org/batchy", input_file: outside }).catch((e) => e);
    expect(refused).toBeInstanceOf(PermissionDeniedError);
    expect(refused).toMatchObject({ code: "path_not_allowed", param: "input_file" });

    await expect(client.files.upload("/no/such/file.jsonl", { purpose: "batch" })).rejects.toThrow(SwitchyardSDKError);
    await expect(client.files.upload("/no/such/file.jsonl", { purpose: "batch" })).rejects.toThrow(/no such file/);
  });
});

function createReadStreamOf(file: string): AsyncIterable<Uint8Array> {
  // Small chunks, so lines are split across chunks as they would be in a big file.
  return (async function* () {
    const bytes = readFileSync(file);
    for (let i = 0; i < bytes.length; i += 7) yield bytes.subarray(i, i + 7);
  })();
}
