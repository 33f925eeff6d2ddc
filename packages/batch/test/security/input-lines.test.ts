import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readRequestLines, validateBatchFile } from "../../src";

const dir = mkdtempSync(path.join(tmpdir(), "sy-lines-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MiB = 1024 * 1024;
const MODEL = "org/chat";
const options = {
  modelNames: new Set([MODEL]),
  model: MODEL,
  maxLines: 150_000,
  maxBytes: 200 * MiB,
  maxLineBytes: MiB,
};

const good = (i: number, overrides: Record<string, unknown> = {}) =>
  JSON.stringify({
    custom_id: `req-${i}`,
    method: "POST",
    url: "/v1/chat/completions",
    body: { model: MODEL, messages: [{ role: "user", content: `hello ${i}` }] },
    ...overrides,
  });

let n = 0;
function file(content: string): string {
  const p = path.join(dir, `f${n++}.jsonl`);
  writeFileSync(p, content);
  return p;
}

/** A file of one line of `bytes` bytes, sparse: it costs no disk and has no line break. */
function oneLineFile(bytes: number): string {
  const p = file("{");
  truncateSync(p, bytes);
  return p;
}

/** Bytes this process has read (every thread: the file system's pool included). */
const PROC_IO = "/proc/self/io";
function bytesRead(): number {
  return Number(/rchar:\s*(\d+)/.exec(readFileSync(PROC_IO, "utf8"))?.[1]);
}
const measurable = existsSync(PROC_IO);
if (!measurable) {
  const reason = `${PROC_IO} is missing (bytes read cannot be measured)`;
  if (process.env.SWITCHYARD_REQUIRE_SERVICES === "1")
    throw new Error(`${reason}; SWITCHYARD_REQUIRE_SERVICES=1 forbids skipping`);
  console.warn(`packages/batch/test/security/input-lines.test.ts: skipped one case: ${reason}`);
}

describe("hostile batch input lines", () => {
  it("a non-JSON line's error does not echo its content", async () => {
    const p = file(
      [
        good(1),
        "SECRET-not-json password=hunter2",
        '{"custom_id": "SECRET-broken", "method": "POST", "url": ',
        good(4, { custom_id: "SECRET-dup" }),
        good(5, { custom_id: "SECRET-dup" }),
        good(6, { url: "/v1/SECRET-url" }),
        good(7, { body: { model: "SECRET-model", messages: [{ role: "user", content: "x" }] } }),
        good(8, { "SECRET-field-name-that-is-not-a-plain-identifier!": 1, method: "GET" }),
      ].join("\n"),
    );
    const result = await validateBatchFile(p, options);
    expect(result.ok).toBe(false);
    expect(result.errors.map((e) => [e.line, e.code])).toEqual([
      [2, "invalid_json_line"],
      [3, "invalid_json_line"],
      [5, "duplicate_custom_id"],
      [6, "invalid_url"],
      [7, "model_mismatch"],
      [8, "invalid_request_line"],
    ]);
    // What is wrong and where, never what the line says (the file may not be the caller's to read).
    for (const error of result.errors) {
      expect(JSON.stringify(error)).not.toMatch(/SECRET|hunter2/);
    }
    expect(result.errors[0]?.message).toMatch(/^Not valid JSON/);
    expect(result.errors[2]?.message).toBe("The custom_id is already used on line 4.");
  });

  it("a line over batch.maxLineBytes is reported by its number, and the lines after it are still checked", async () => {
    const long = good(2, { body: { model: MODEL, messages: [{ role: "user", content: "x".repeat(2 * MiB) }] } });
    const p = file(`${good(1)}\r\n${long}\r\n{not json\n${good(4)}\n`);
    const result = await validateBatchFile(p, options);
    expect(result.lines).toBe(4);
    expect(result.errors.map((e) => [e.line, e.code])).toEqual([
      [2, "line_too_long"],
      [3, "invalid_json_line"],
    ]);
    expect(result.errors[0]?.message).toMatch(/longer than the limit of 1 MB per line \(batch\.maxLineBytes\)/);
    // A line exactly at the limit is fine, CRLF ending or not.
    const padding = MiB - good(1).length;
    const atLimit = good(1, { pad: "y".repeat(padding - ',"pad":""'.length) });
    expect(Buffer.byteLength(atLimit)).toBe(MiB);
    const ok = await validateBatchFile(file(`${atLimit}\r\n${good(2)}`), options);
    expect(ok.errors).toEqual([]);
  });

  it.skipIf(!measurable)(
    `a 100 MB one-line input is refused without reading it whole (measured in ${PROC_IO})`,
    async () => {
      const p = oneLineFile(100 * MiB);
      const before = bytesRead();
      const lines = readRequestLines(p, { maxLineBytes: MiB });
      await expect(lines.next()).rejects.toThrow(/line 1 is longer than the limit of 1 MB/);
      const read = bytesRead() - before;
      // The limit plus one read-ahead chunk, not the 100 MB.
      expect(read).toBeLessThan(4 * MiB);
    },
  );
});
