import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { validateBatchFile } from "../src";

const dir = mkdtempSync(path.join(tmpdir(), "sy-validate-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MODEL = "org/chat";
const line = (i: number, overrides: Record<string, unknown> = {}) =>
  JSON.stringify({
    custom_id: `req-${i}`,
    method: "POST",
    url: "/v1/chat/completions",
    body: { model: MODEL, messages: [{ role: "user", content: `hello ${i}` }] },
    ...overrides,
  });

let n = 0;
function file(lines: string[]): string {
  const p = path.join(dir, `f${n++}.jsonl`);
  writeFileSync(p, `${lines.join("\n")}\n`);
  return p;
}

const options = {
  modelNames: new Set([MODEL, "chatty"]),
  model: MODEL,
  maxLines: 150_000,
  maxBytes: 200 * 1024 * 1024,
  maxLineBytes: 10 * 1024 * 1024,
};

describe("validating a batch file before anything runs", () => {
  it("accepts a good file, blank lines and CRLF endings included, and learns the endpoint from it", async () => {
    const p = file([
      line(1),
      "",
      `${line(2, { body: { model: "chatty", messages: [{ role: "user", content: "x" }] } })}\r`,
      "  ",
    ]);
    const result = await validateBatchFile(p, options);
    expect(result).toEqual({ ok: true, lines: 2, endpoint: "/v1/chat/completions", errors: [], errorCount: 0 });
  });

  it("names every bad line by its number, with a code and the field at fault", async () => {
    const p = file([
      line(1),
      "{not json",
      line(3, { custom_id: "req-1" }),
      line(4, { method: "GET" }),
      line(5, { url: "/v1/embeddings" }),
      line(6, { body: { model: "org/other", messages: [{ role: "user", content: "x" }] } }),
      line(7, { body: { model: MODEL, messages: "not a list" } }),
      JSON.stringify({ method: "POST", url: "/v1/chat/completions", body: { model: MODEL, messages: [] } }),
    ]);
    const result = await validateBatchFile(p, options);
    expect(result.ok).toBe(false);
    expect(result.errors.map((e) => [e.line, e.code, e.param])).toEqual([
      [2, "invalid_json_line", null],
      [3, "duplicate_custom_id", "custom_id"],
      [4, "invalid_request_line", "method"],
      [5, "invalid_url", "url"],
      [6, "model_mismatch", "body.model"],
      [7, "invalid_body", "body.messages"],
      [8, "invalid_request_line", "custom_id"],
    ]);
    expect(result.errors[1]?.message).toBe("The custom_id is already used on line 1.");
    expect(result.errors[3]?.message).toMatch(/differs from the batch's endpoint '\/v1\/chat\/completions'/);
    expect(result.errors[4]?.message).toMatch(/every line of this batch must use 'org\/chat'/);
  });

  it("gives a reference batch's line without body.model the batch's model; an OpenAI batch refuses it", async () => {
    const bare = line(1, { body: { messages: [{ role: "user", content: "no model named" }] } });
    const reference = { ...options, defaultModel: MODEL };
    expect(await validateBatchFile(file([bare, line(2)]), reference)).toMatchObject({ ok: true, lines: 2 });
    // OpenAI's API names the model on every line: a line without one is refused there.
    const openai = await validateBatchFile(file([line(2), bare]), options);
    expect(openai.errors.map((e) => [e.line, e.code, e.param])).toEqual([[2, "invalid_body", "body.model"]]);
  });

  it("holds every line to the endpoint the batch was created for", async () => {
    const result = await validateBatchFile(file([line(1)]), { ...options, endpoint: "/v1/embeddings" });
    expect(result.errors[0]).toMatchObject({ line: 1, code: "invalid_url" });
  });

  it("refuses a first line whose url batches cannot call", async () => {
    const result = await validateBatchFile(file([line(1, { url: "/v1/images/generations" })]), options);
    expect(result.errors[0]).toMatchObject({ line: 1, code: "invalid_url", param: "url" });
  });

  it("refuses 150,001 lines, saying how many there are, and lists at most 100 problems", async () => {
    const lines = Array.from({ length: 150_001 }, (_, i) => line(i));
    const result = await validateBatchFile(file(lines), options);
    expect(result.ok).toBe(false);
    expect(result.lines).toBe(150_001);
    expect(result.errors).toEqual([
      {
        code: "too_many_lines",
        message: "The file has 150,001 requests; the limit is 150,000.",
        param: null,
        line: 150_001,
      },
    ]);
    const bad = await validateBatchFile(file(Array.from({ length: 250 }, () => "nope")), options);
    expect(bad.errors).toHaveLength(100);
    expect(bad.errorCount).toBe(250);
  });

  it("refuses an empty file and one over the size limit", async () => {
    expect((await validateBatchFile(file([""]), options)).errors[0]?.code).toBe("empty_file");
    const big = await validateBatchFile(file([line(1), line(2)]), { ...options, maxBytes: 100 });
    expect(big.errors[0]).toMatchObject({ code: "file_too_large", line: null });
    expect(big.errors[0]?.message).toMatch(/the limit is 0 KB/);
  });
});
