import { describe, expect, it } from "vitest";
import { LineFormat, OutputLines } from "../../src/run/output-lines";
import { FakeSink, outcome } from "./fakes";

function lines(written = 0) {
  const results = new FakeSink();
  const errors = new FakeSink();
  const counts = { completed: 0, failed: 0, prompt: 0, completion: 0 };
  return { results, errors, counts, output: new OutputLines(results, errors, counts, written) };
}

async function flush(output: OutputLines) {
  return output.cut().write();
}

describe("ordered output", () => {
  it("writes lines in input order whatever order they finish in, answers and errors apart", async () => {
    const { output, results, errors, counts } = lines(10);
    output.finish(12, outcome("c", true, 3));
    output.finish(11, outcome("b", false));
    output.advance();
    expect(output.written).toBe(10);
    expect(output.waiting).toBe(2);
    output.finish(10, outcome("a", true, 2));
    output.advance();
    expect(output.written).toBe(13);
    await flush(output);
    expect(results.synced).toEqual(["a", "c"]);
    expect(errors.synced).toEqual(["b"]);
    expect(counts).toEqual({ completed: 2, failed: 1, prompt: 5, completion: 5 });
  });

  it("cuts both files at the same line: what is appended after the cut waits for the next one", async () => {
    const { output, results } = lines();
    output.finish(0, outcome("a"));
    output.advance();
    const cut = output.cut();
    output.finish(1, outcome("b"));
    output.advance();
    const bytes = await cut.write();
    expect(cut.cursorLine).toBe(1);
    expect(cut.counts.completed).toBe(1);
    expect(bytes).toEqual({ resultsBytes: 2, errorsBytes: 0 });
    expect(results.synced).toEqual(["a"]);
    await flush(output);
    expect(results.synced).toEqual(["a", "b"]);
  });

  it("hands a cancel the finished lines in input order, and remembers started lines' custom ids", () => {
    const { output } = lines();
    output.start(0, "q0");
    output.start(1, "q1");
    output.start(2, "q2");
    output.finish(2, outcome("c"));
    output.finish(1, outcome("b"));
    expect(output.customIdOf(0)).toBe("q0");
    expect(output.takeFinished().map((o) => o.line)).toEqual(["b", "c"]);
    expect(output.waiting).toBe(0);
  });

  it("collects the usage of the lines a cut covers, and starts afresh after it", () => {
    const { output } = lines();
    const usage = (requestId: string) => ({ at: 1_000, requestId, status: 200, latencyMs: 5 });
    output.finish(0, { ...outcome("a", true, 3), usage: usage("r0") });
    output.finish(1, { ...outcome("b", false), usage: { ...usage("r1"), status: 502, latencyMs: 0 } });
    output.finish(2, outcome("c")); // a line with no usage (an internal error) adds no row
    output.advance();
    const cut = output.cut();
    expect(cut.usage.requestId).toEqual(["r0", "r1"]);
    expect(cut.usage.status).toEqual([200, 502]);
    expect(cut.usage.promptTokens).toEqual([3, 0]);
    expect(output.cut().usage.length).toBe(0);
  });

  it("formats lines in OpenAI's output shape with ids that follow the input order", () => {
    const format = new LineFormat();
    const ok = JSON.parse(format.result(1, "q1", "req-1", '{"x":1}'));
    const failed = JSON.parse(format.error(2, "q2", null, { code: "batch_expired", message: "late" }));
    expect(ok).toMatchObject({ custom_id: "q1", response: { status_code: 200, request_id: "req-1", body: { x: 1 } } });
    expect(ok.error).toBeNull();
    expect(failed).toMatchObject({ custom_id: "q2", response: null, error: { code: "batch_expired" } });
    expect(ok.id < failed.id).toBe(true);
    expect(ok.id).toMatch(/^batch_req_[0-9a-f]{16}00000001$/);
  });
});
