import { readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ManualClock } from "@switchyard/core";
import { testDrivers } from "@switchyard/db/testing";
import { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BatchHarness, chatLine, jsonl, startBatchHarness } from "./batch-harness";
import { passwordToken, scrapeMetrics } from "./helpers";

const drivers = await testDrivers();

function lines(file: string): any[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

describe.each(drivers)("batches through both front doors (%s)", (driver) => {
  let h: BatchHarness;
  beforeAll(async () => {
    h = await startBatchHarness({ driver });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("runs the reference service's curl example and writes the documented layout", async () => {
    const input = path.join(h.shared, "prompts.jsonl");
    writeFileSync(input, jsonl(Array.from({ length: 120 }, (_, i) => chatLine(i))));
    const out = path.join(h.shared, "out");
    const created = await h.api("POST", "/resource_server/lab/vllm/v1/batches", {
      model: "org/batchy",
      input_file: input,
      output_folder_path: out,
    });
    expect(created.status).toBe(200);
    const id = created.json.batch_id as string;
    expect(created.json).toMatchObject({ cluster: "lab", framework: "vllm", input_file: input, status: "pending" });
    await h.waitFor(id, ["completed"]);

    const listed = await h.api("GET", "/resource_server/v1/batches?status=completed");
    // Times as the reference service prints them (Python's str() of a UTC datetime).
    expect(created.json.created_at).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?\+00:00$/);
    expect(listed.json).toContainEqual({
      batch_id: id,
      cluster: "lab",
      created_at: created.json.created_at,
      framework: "vllm",
      input_file: input,
      status: "completed",
    });
    expect((await h.api("GET", "/resource_server/v1/batches?status=running")).json).toEqual([]);
    expect((await h.api("GET", "/resource_server/v1/batches?status=done")).json.error.param).toBe("status");
    // An empty status filters nothing, as before the route declared its query.
    expect((await h.api("GET", "/resource_server/v1/batches?status=")).json).toContainEqual(
      expect.objectContaining({ batch_id: id }),
    );

    const result = await h.api("GET", `/resource_server/v1/batches/${id}/result`);
    expect(result.status).toBe(200);
    const folder = path.join(out, `prompts_org_batchy_${id}`);
    expect(path.dirname(result.json.results_file)).toBe(folder);
    expect(path.basename(result.json.results_file)).toMatch(/^prompts_\d{8}-\d{6}\.results\.jsonl$/);
    expect(result.json.progress_file).toBe(result.json.results_file.replace(/\.results\.jsonl$/, ".progress.json"));
    expect(result.json.metrics).toMatchObject({ num_responses: 120, lines_processed: 120 });
    expect(result.json.metrics.total_tokens).toBeGreaterThan(120);

    const answers = lines(result.json.results_file);
    expect(answers.map((a) => a.custom_id)).toEqual(Array.from({ length: 120 }, (_, i) => `req-${i}`));
    expect(answers[0]).toMatchObject({
      id: expect.stringMatching(/^batch_req_/),
      custom_id: "req-0",
      response: { status_code: 200, request_id: expect.any(String), body: { object: "chat.completion" } },
      error: null,
    });
    expect(JSON.parse(readFileSync(result.json.progress_file, "utf8"))).toMatchObject({
      batch_id: id,
      status: "completed",
      total: 120,
      completed: 120,
      failed: 0,
    });
    const detail = await h.api("GET", `/resource_server/lab/vllm/v1/batches/${id}`);
    expect(detail.json).toMatchObject({
      status: "completed",
      request_counts: { total: 120, completed: 120, failed: 0 },
    });
  });

  it("runs a 1,000-line batch through the openai client's Files and Batches API", async () => {
    const LINES = 1000;
    const content = jsonl(Array.from({ length: LINES }, (_, i) => chatLine(i, i % 2 ? "batchy" : "org/batchy")));
    const file = await h.client.files.create({
      file: await toFile(Buffer.from(content), "questions.jsonl"),
      purpose: "batch",
    });
    expect(file).toMatchObject({
      object: "file",
      purpose: "batch",
      filename: "questions.jsonl",
      bytes: Buffer.byteLength(content),
    });
    expect((await h.client.files.retrieve(file.id)).id).toBe(file.id);
    const batch = await h.client.batches.create({
      input_file_id: file.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
      metadata: { project: "tests" },
    });
    expect(batch).toMatchObject({
      object: "batch",
      status: "validating",
      model: "org/batchy",
      metadata: { project: "tests" },
    });
    await h.waitFor(batch.id, ["completed"]);
    const done = await h.client.batches.retrieve(batch.id);
    expect(done.request_counts).toEqual({ total: LINES, completed: LINES, failed: 0 });
    expect(done.error_file_id).toBeNull();
    expect(done.in_progress_at).toBeGreaterThanOrEqual(done.created_at);
    const output = await (await h.client.files.content(done.output_file_id as string)).text();
    const ids = output
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).custom_id);
    expect(ids).toEqual(Array.from({ length: LINES }, (_, i) => `req-${i}`));
    // Line ids are unique and follow the file's order, like the lines.
    const lineIds = output
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).id as string);
    expect(new Set(lineIds).size).toBe(LINES);
    expect([...lineIds].sort()).toEqual(lineIds);
    expect((await h.client.batches.list()).data.map((b) => b.id)).toContain(batch.id);
    // Every request is accounted to the user, as interactive ones are.
    await h.server.ctx.usage.flush();
    const usage = await h.server.ctx.db.prisma.usageRecord.findMany({ where: { requestId: { startsWith: batch.id } } });
    expect(usage).toHaveLength(LINES);
    expect(usage.every((u) => u.route === "/v1/batches" && u.status === 200 && u.completionTokens > 0)).toBe(true);
    const files = await h.client.files.list();
    expect(files.data.map((f) => f.id)).toEqual(expect.arrayContaining([file.id, done.output_file_id]));
    // Ended: cancelling is a conflict; the input can be deleted now.
    const cancel = await h.api("POST", `/v1/batches/${batch.id}/cancel`);
    expect([cancel.status, cancel.json.error.code]).toEqual([409, "batch_state_conflict"]);
    expect(await h.client.files.delete(file.id)).toEqual({ id: file.id, object: "file", deleted: true });
    expect((await h.api("GET", `/v1/files/${file.id}`)).status).toBe(404);
  });

  it("serves a batch's files to its owner and to admins, to nobody else", async () => {
    const { file, batch } = await h.submit(Buffer.from(jsonl([chatLine(0), chatLine(1)])), "two.jsonl");
    const done = await h.waitFor(batch.id, ["completed"]);
    const route = `/v1/files/${done.output_file_id}/content`;
    const owner = await h.api("GET", route);
    expect(owner.text.trim().split("\n")).toHaveLength(2);
    expect((await h.api("GET", route, undefined, h.otherKey)).status).toBe(404);
    const admin = await passwordToken(h.server.url);
    expect(await h.api("GET", route, undefined, admin)).toMatchObject({ status: 200, text: owner.text });
    expect((await h.api("GET", `/v1/files/${done.output_file_id}`, undefined, admin)).json).toMatchObject({
      id: done.output_file_id,
    });
    // Listing and deleting stay the owner's.
    expect((await h.api("DELETE", `/v1/files/${file.id}`, undefined, admin)).status).toBe(404);
  });

  it("fails a bad file with line numbers and runs none of it", async () => {
    const content = jsonl([
      chatLine(1),
      "{oops",
      chatLine(1),
      chatLine(4, "org/other"),
      JSON.stringify({
        custom_id: "x",
        method: "POST",
        url: "/v1/embeddings",
        body: { model: "org/batchy", input: "a" },
      }),
    ]);
    const { batch } = await h.submit(Buffer.from(content), "bad.jsonl");
    const failed = await h.waitFor(batch.id, ["failed"]);
    expect(failed.errors.data.map((e: any) => [e.line, e.code])).toEqual([
      [2, "invalid_json_line"],
      [3, "duplicate_custom_id"],
      [4, "model_mismatch"],
      [5, "invalid_url"],
    ]);
    expect(failed.request_counts).toEqual({ total: 5, completed: 0, failed: 0 });
    expect(failed.output_file_id).toBeNull();
    await h.server.ctx.usage.flush();
    const usage = await h.server.ctx.db.prisma.usageRecord.findMany({ where: { requestId: { startsWith: batch.id } } });
    expect(usage).toEqual([]); // nothing was sent

    // No line names a model: each is reported, rather than a batch for model ''.
    const modelless = await h.client.files.create({
      file: await toFile(
        Buffer.from(jsonl([0, 1].map((i) => JSON.stringify({ ...JSON.parse(chatLine(i)), body: { messages: [] } })))),
        "no-model.jsonl",
      ),
      purpose: "batch",
    });
    const unnamed = await h.client.batches.create({
      input_file_id: modelless.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    });
    const rejected = await h.waitFor(unnamed.id, ["failed"]);
    expect(rejected.errors.data.map((e: any) => [e.line, e.code, e.param])).toEqual([
      [1, "invalid_body", "body.model"],
      [2, "invalid_body", "body.model"],
    ]);
  });

  it("reference API: lines without body.model take the batch's model; a failed batch's result says why (400)", async () => {
    const bare = (i: number) =>
      JSON.stringify({ ...JSON.parse(chatLine(i)), body: { messages: [{ role: "user", content: "hi" }] } });
    const good = path.join(h.shared, "modelless.jsonl");
    writeFileSync(good, jsonl([bare(0), bare(1)]));
    const ran = await h.api("POST", "/resource_server/v1/batches", { model: "org/batchy", input_file: good });
    expect(ran.status).toBe(200);
    const done = await h.waitFor(ran.json.batch_id, ["completed", "failed"]);
    expect([done.status, done.request_counts]).toEqual(["completed", { total: 2, completed: 2, failed: 0 }]);
    const answered = lines(
      (await h.api("GET", `/resource_server/v1/batches/${ran.json.batch_id}/result`)).json.results_file,
    );
    expect(answered.map((a) => [a.custom_id, a.response.body.model])).toEqual([
      ["req-0", "org/batchy"],
      ["req-1", "org/batchy"],
    ]);

    const bad = path.join(h.shared, "broken.jsonl");
    writeFileSync(bad, jsonl([bare(0), "{oops"]));
    const created = await h.api("POST", "/resource_server/v1/batches", { model: "org/batchy", input_file: bad });
    await h.waitFor(created.json.batch_id, ["failed"]);
    const result = await h.api("GET", `/resource_server/v1/batches/${created.json.batch_id}/result`);
    expect([result.status, result.json.error.code]).toEqual([400, "batch_failed"]);
    expect(result.json.error.message).toMatch(/^Batch failed: line 2: /);
  });

  it("refuses a file over 150,000 lines", async () => {
    const content = jsonl(Array.from({ length: 150_001 }, (_, i) => chatLine(i)));
    const { batch } = await h.submit(Buffer.from(content), "huge.jsonl");
    const failed = await h.waitFor(batch.id, ["failed"]);
    expect(failed.errors.data).toEqual([
      {
        code: "too_many_lines",
        message: "The file has 150,001 requests; the limit is 150,000.",
        param: null,
        line: 150_001,
      },
    ]);
  });
});

describe("what a batch request is refused for, at once", () => {
  let h: BatchHarness;
  beforeAll(async () => {
    h = await startBatchHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  const reference = (body: unknown, key?: string) => h.api("POST", "/resource_server/v1/batches", body, key);

  it("paths outside the allowed directories, traversal and symlink escapes", async () => {
    const input = path.join(h.shared, "ok.jsonl");
    writeFileSync(input, jsonl([chatLine(1)]));
    const secret = path.join(h.dataDir, "secret.jsonl");
    writeFileSync(secret, jsonl([chatLine(1)]));
    symlinkSync(secret, path.join(h.shared, "sneaky.jsonl"));
    symlinkSync(h.dataDir, path.join(h.shared, "up"));

    const outside = await reference({ model: "org/batchy", input_file: secret });
    expect([outside.status, outside.json.error.code, outside.json.error.param]).toEqual([
      403,
      "path_not_allowed",
      "input_file",
    ]);
    expect(outside.json.error.message).toContain(h.shared);
    const traversal = await reference({ model: "org/batchy", input_file: `${h.shared}/../secret.jsonl` });
    expect([traversal.status, traversal.json.error.code]).toEqual([400, "invalid_path"]);
    const link = await reference({ model: "org/batchy", input_file: path.join(h.shared, "sneaky.jsonl") });
    expect([link.status, link.json.error.code]).toEqual([403, "path_not_allowed"]);
    const out = await reference({
      model: "org/batchy",
      input_file: input,
      output_folder_path: path.join(h.shared, "up", "x"),
    });
    expect([out.status, out.json.error.code, out.json.error.param]).toEqual([
      403,
      "path_not_allowed",
      "output_folder_path",
    ]);
    const relative = await reference({ model: "org/batchy", input_file: "ok.jsonl" });
    expect([relative.status, relative.json.error.message]).toEqual([
      400,
      "input_file 'ok.jsonl' must be an absolute path.",
    ]);
    const missing = await reference({ model: "org/batchy", input_file: path.join(h.shared, "nope.jsonl") });
    expect([missing.status, missing.json.error.code]).toEqual([400, "invalid_path"]);
  });

  it("models without the batch capability (422), unknown models (404), bad bodies (400)", async () => {
    const input = path.join(h.shared, "ok.jsonl");
    writeFileSync(input, jsonl([chatLine(1)]));
    const chatOnly = await reference({ model: "org/chatonly", input_file: input });
    expect([chatOnly.status, chatOnly.json.error.code]).toEqual([422, "capability_not_supported"]);
    expect(chatOnly.json.error.message).toMatch(/does not support batches. Models that do: org\/batchy/);
    expect((await reference({ model: "org/nope", input_file: input })).json.error.code).toBe("model_not_found");
    const extra = await reference({ model: "org/batchy", input_file: input, colour: "blue" });
    expect([extra.status, extra.json.error.param]).toEqual([400, "colour"]);
    const window = await h.api("POST", "/v1/batches", {
      input_file_id: "file-x",
      endpoint: "/v1/chat/completions",
      completion_window: "1h",
    });
    expect([window.status, window.json.error.param]).toEqual([400, "completion_window"]);
    const nofile = await h.api("POST", "/v1/batches", {
      input_file_id: "file-x",
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    });
    expect([nofile.status, nofile.json.error.code]).toEqual([404, "file_not_found"]);
    const endpoint = await h.api("POST", "/v1/batches", {
      input_file_id: "file-x",
      endpoint: "/v1/images",
      completion_window: "24h",
    });
    expect([endpoint.status, endpoint.json.error.param]).toEqual([400, "endpoint"]);

    // The precheck runs create's checks for a model before anything is uploaded: the same answers.
    const precheck = (body: unknown) => h.api("POST", "/v1/batches/precheck", body);
    const ok = await precheck({ model: "batchy", endpoint: "/v1/chat/completions" });
    expect([ok.status, ok.json]).toEqual([
      200,
      { object: "batch.precheck", model: "org/batchy", completion_window: "24h" },
    ]);
    const upload = await h.client.files.create({
      file: await toFile(Buffer.from(jsonl([chatLine(0, "org/chatonly")])), "chatonly.jsonl"),
      purpose: "batch",
    });
    const created = await h.api("POST", "/v1/batches", {
      input_file_id: upload.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    });
    await h.client.files.delete(upload.id);
    const refused = await precheck({ model: "org/chatonly" });
    expect([refused.status, refused.json.error.code]).toEqual([422, "capability_not_supported"]);
    expect([refused.status, refused.json]).toEqual([created.status, created.json]); // what create answered
    expect(refused.json).toEqual(chatOnly.json);
    const unknown = await precheck({ model: "org/nope" });
    expect([unknown.status, unknown.json.error.code]).toEqual([404, "model_not_found"]);
    const badWindow = await precheck({ model: "org/batchy", completion_window: "1h" });
    expect([badWindow.status, badWindow.json]).toEqual([400, window.json]);
    const extraField = await precheck({ model: "org/batchy", input_file_id: "file-x" });
    expect([extraField.status, extraField.json.error.param]).toEqual([400, "input_file_id"]);
    const anonymous = await fetch(`${h.server.url}/v1/batches/precheck`, { method: "POST" });
    expect(anonymous.status).toBe(401);
  });

  it("uploads that are not multipart, lack a purpose or have another one", async () => {
    const json = await h.api("POST", "/v1/files", { purpose: "batch" });
    expect([json.status, json.json.error.code]).toEqual([415, "unsupported_content_type"]);
    const form = new FormData();
    form.set("file", new Blob([jsonl([chatLine(1)])]), "a.jsonl");
    const noPurpose = await fetch(`${h.server.url}/v1/files`, {
      method: "POST",
      headers: { authorization: `Bearer ${h.key}` },
      body: form,
    });
    expect([noPurpose.status, ((await noPurpose.json()) as any).error.param]).toEqual([400, "purpose"]);
    form.set("purpose", "fine-tune");
    const wrong = await fetch(`${h.server.url}/v1/files`, {
      method: "POST",
      headers: { authorization: `Bearer ${h.key}` },
      body: form,
    });
    expect([wrong.status, ((await wrong.json()) as any).error.message]).toEqual([
      400,
      expect.stringMatching(/'fine-tune' is not accepted here/),
    ]);
    const noFile = new FormData();
    noFile.set("purpose", "batch");
    const empty = await fetch(`${h.server.url}/v1/files`, {
      method: "POST",
      headers: { authorization: `Bearer ${h.key}` },
      body: noFile,
    });
    expect([empty.status, ((await empty.json()) as any).error.code]).toEqual([400, "missing_required_field"]);
    expect((await h.client.files.list()).data).toEqual([]); // nothing half-uploaded was kept
  });

  it("one active batch per user (429 naming it), others' batches are 404, cancel keeps what was answered", async () => {
    const input = path.join(h.shared, "slow.jsonl");
    writeFileSync(input, jsonl(Array.from({ length: 60 }, (_, i) => chatLine(i, "org/slow", { max_tokens: 10 }))));
    const first = await reference({ model: "org/slow", input_file: input });
    expect(first.status).toBe(200);
    const id = first.json.batch_id as string;
    const again = await reference({ model: "org/slow", input_file: input });
    expect([again.status, again.json.error.code, again.json.error.param]).toEqual([
      409,
      "batch_input_in_use",
      "input_file",
    ]);
    expect(again.json.error.message).toContain(id);
    const other = path.join(h.shared, "other.jsonl");
    writeFileSync(other, jsonl([chatLine(0, "org/slow")]));
    const second = await reference({ model: "org/slow", input_file: other });
    expect([second.status, second.json.error.code]).toEqual([429, "batch_limit_reached"]);
    expect(second.json.error.message).toContain(id);
    const precheck = await h.api("POST", "/v1/batches/precheck", { model: "org/slow" });
    expect([precheck.status, precheck.json]).toEqual([429, second.json]);

    for (const route of [
      `/v1/batches/${id}`,
      `/resource_server/v1/batches/${id}`,
      `/resource_server/v1/batches/${id}/result`,
    ]) {
      const theirs = await h.api("GET", route, undefined, h.otherKey);
      expect([route, theirs.status, theirs.json.error.code]).toEqual([route, 404, "batch_not_found"]);
    }
    expect((await h.api("POST", `/v1/batches/${id}/cancel`, undefined, h.otherKey)).status).toBe(404);
    const early = await h.api("GET", `/resource_server/v1/batches/${id}/result`);
    expect([early.status, early.json.error.code]).toEqual([409, "batch_state_conflict"]);

    // Let some answers arrive, then cancel mid-run.
    const until = Date.now() + 30_000;
    while ((await h.api("GET", `/v1/batches/${id}`)).json.request_counts.completed < 5) {
      if (Date.now() > until) throw new Error("no progress");
      await new Promise((r) => setTimeout(r, 50));
    }
    const cancelled = await h.api("POST", `/resource_server/v1/batches/${id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(["running", "cancelled"]).toContain(cancelled.json.status);
    const final = await h.waitFor(id, ["cancelled"]);
    expect(final.cancelling_at).not.toBeNull();
    expect(final.cancelled_at).not.toBeNull();
    const detail = (await h.api("GET", `/resource_server/v1/batches/${id}`)).json;
    const results = lines(detail.results_file);
    const errors = lines(detail.errors_file);
    expect(results.length).toBe(final.request_counts.completed);
    expect(errors.length).toBe(final.request_counts.failed);
    expect(results.length).toBeGreaterThanOrEqual(5);
    expect(results.length).toBeLessThan(60);
    expect(new Set(results.map((r) => r.custom_id)).size).toBe(results.length);
    expect(detail.status).toBe("cancelled");
    const result = await h.api("GET", `/resource_server/v1/batches/${id}/result`);
    expect(result.json.metrics.num_responses).toBe(results.length);
    // Cancelled: a new batch is allowed again, and cancelling twice is harmless.
    expect((await h.api("POST", `/v1/batches/${id}/cancel`)).json.status).toBe("cancelled");
  });
});

describe("a batch meets failures and a cold model", () => {
  let h: BatchHarness;
  beforeAll(async () => {
    h = await startBatchHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it("retries 503s until they pass, and writes what the model refuses to the errors file", async () => {
    const content = jsonl([
      ...Array.from({ length: 100 }, (_, i) => chatLine(i, "org/flaky")),
      chatLine(100, "org/flaky", { max_tokens: 100_000 }), // over the context window: 400, not retried
    ]);
    const { batch } = await h.submit(Buffer.from(content), "flaky.jsonl");
    const done = await h.waitFor(batch.id, ["completed"]);
    expect(done.request_counts).toEqual({ total: 101, completed: 100, failed: 1 });
    const errors = (await (await h.client.files.content(done.error_file_id)).text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      custom_id: "req-100",
      response: { status_code: 400 },
      error: { code: "model_server_rejected", message: expect.stringMatching(/maximum context length/i) },
    });
    const metrics = await scrapeMetrics(h.server.url);
    const retried = Number(/switchyard_batch_retries_total\{model="org\/flaky"\} (\d+)/.exec(metrics)?.[1]);
    expect(retried).toBeGreaterThan(0);
  });

  it("starts a cold model and waits for it instead of failing", async () => {
    expect(h.server.ctx.scheduler.availability("lab", "org/cold").status).toBe("offline");
    const input = path.join(h.shared, "cold.jsonl");
    writeFileSync(input, jsonl(Array.from({ length: 20 }, (_, i) => chatLine(i, "org/cold"))));
    const created = await h.api("POST", "/resource_server/v1/batches", { model: "org/cold", input_file: input });
    const done = await h.waitFor(created.json.batch_id, ["completed"]);
    expect(done.request_counts).toEqual({ total: 20, completed: 20, failed: 0 });
  });
});

describe("a batch past its completion window", () => {
  const clock = new ManualClock(Date.UTC(2026, 10, 25, 9, 0, 0));
  let h: BatchHarness;
  beforeAll(async () => {
    h = await startBatchHarness({ clock });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("expires: answers received are kept, every other line is in the errors file as batch_expired", async () => {
    const content = jsonl(Array.from({ length: 150 }, (_, i) => chatLine(i, "org/slow", { max_tokens: 10 })));
    const { batch } = await h.submit(Buffer.from(content), "long.jsonl");
    expect(batch.expires_at).toBe(batch.created_at + 86_400);
    const until = Date.now() + 30_000;
    while (((await h.client.batches.retrieve(batch.id)).request_counts?.completed ?? 0) < 3) {
      if (Date.now() > until) throw new Error("no progress");
      await new Promise((r) => setTimeout(r, 50));
    }
    clock.advance(24 * 3600 * 1000 + 1000);
    const expired = await h.waitFor(batch.id, ["expired"]);
    expect(expired.expired_at).toBeGreaterThanOrEqual(batch.expires_at as number);
    const { completed, failed, total } = expired.request_counts;
    expect(total).toBe(150);
    expect(completed + failed).toBe(150);
    expect(completed).toBeGreaterThanOrEqual(3);
    expect(failed).toBeGreaterThan(0);
    const outputs = (await (await h.client.files.content(expired.output_file_id)).text()).trim().split("\n");
    const errors = (await (await h.client.files.content(expired.error_file_id)).text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(outputs).toHaveLength(completed);
    expect(errors).toHaveLength(failed);
    expect(errors.every((e) => e.error.code === "batch_expired" && e.response === null)).toBe(true);
    const ids = [...outputs.map((l) => JSON.parse(l).custom_id), ...errors.map((e) => e.custom_id)].sort();
    expect(ids).toEqual(Array.from({ length: 150 }, (_, i) => `req-${i}`).sort());
  });
});
