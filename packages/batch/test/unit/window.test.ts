import { describe, expect, it } from "vitest";
import type { InputLine } from "../../src/lines";
import { LineFormat, OutputLines } from "../../src/run/output-lines";
import type { InFlight, LineRequest } from "../../src/run/request";
import { LineWindow, WINDOW } from "../../src/run/window";
import { FakeSink, memoryResources, outcome } from "./fakes";

async function* lines(count: number): AsyncGenerator<InputLine> {
  for (let i = 0; i < count; i++) yield { line: i + 1, text: JSON.stringify({ custom_id: `q${i}`, body: {} }) };
}

/** Requests the test answers by hand: each waits until `answer(index)` (or an abort). */
class HeldRequests {
  readonly open = new Map<number, { resolve: (ok: boolean) => void; request: LineRequest }>();
  most = 0;
  aborted: number[] = [];

  async send(index: number, request: LineRequest, flight: InFlight) {
    const answered = new Promise<boolean>((resolve) => {
      this.open.set(index, { resolve, request });
      flight.call = {
        abort: () => {
          this.aborted.push(index);
          resolve(false);
        },
      } as unknown as InFlight["call"];
    });
    this.most = Math.max(this.most, this.open.size);
    const ok = await answered;
    this.open.delete(index);
    return ok ? outcome(request.custom_id) : undefined;
  }

  answer(index: number): void {
    this.open.get(index)?.resolve(true);
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

async function world(count: number, limit: number) {
  const w = { res: memoryResources() };
  const results = new FakeSink();
  const output = new OutputLines(results, new FakeSink(), w.res.counts, 0);
  const requests = new HeldRequests();
  const window = new LineWindow(w.res, {
    reader: lines(count),
    output,
    requests,
    limiter: { limit },
    format: new LineFormat(),
  });
  return { w, output, results, requests, window };
}

describe("the in-flight window", () => {
  it("keeps at most the limit in flight and writes answers in input order", async () => {
    const { output, requests, window } = await world(5, 2);
    const drained = window.drain();
    await tick();
    expect([...requests.open.keys()]).toEqual([0, 1]);
    requests.answer(1);
    await tick();
    expect(output.written).toBe(0);
    expect([...requests.open.keys()]).toEqual([0, 2]);
    for (const index of [2, 0, 3, 4]) {
      requests.answer(index);
      await tick();
    }
    await drained;
    expect(requests.most).toBe(2);
    expect(output.written).toBe(5);
    await output.cut().write();
    expect((output.results as FakeSink).synced).toEqual(["q0", "q1", "q2", "q3", "q4"]);
  });

  it(`never reads more than ${WINDOW} lines past the first unwritten one`, async () => {
    const { requests, window, w } = await world(WINDOW + 10, WINDOW + 100);
    const drained = window.drain();
    for (let i = 0; i < 20 && requests.open.size < WINDOW; i++) await tick();
    for (let i = 1; i < WINDOW; i++) requests.answer(i);
    for (let i = 0; i < 5; i++) await tick();
    expect(window.next).toBe(WINDOW);
    requests.answer(0);
    for (let i = 0; i < 20; i++) await tick();
    expect(window.next).toBe(WINDOW + 10);
    w.res.interrupts.interrupt("stop");
    await drained;
  });

  it("aborts what is in flight at an interruption and ends once nothing is", async () => {
    const { output, requests, window, w } = await world(10, 3);
    const drained = window.drain();
    await tick();
    requests.answer(0);
    await tick();
    w.res.interrupts.interrupt("cancel");
    await drained;
    expect(requests.aborted.sort()).toEqual([1, 2, 3]);
    expect(output.written).toBe(1);
    expect(window.next).toBe(4);
  });

  it("ends at once when the run was interrupted before it started (a stop during validation)", async () => {
    const { requests, window, w } = await world(10, 3);
    w.res.interrupts.interrupt("stop");
    const ended = await Promise.race([
      window.drain().then(() => "ended"),
      new Promise((resolve) => setTimeout(() => resolve("still waiting after 1 s"), 1000)),
    ]);
    expect(ended).toBe("ended");
    expect(requests.open.size).toBe(0);
    expect(window.next).toBe(0);
  });
});
