import { describe, expect, it } from "vitest";
import { type APIError, InternalServerError, jsonEvents, RateLimitError } from "../../src/index";

/** A response body that delivers exactly these byte chunks, and records whether it was cancelled. */
function body(chunks: (string | Uint8Array)[]) {
  const state = { cancelled: false, pulled: 0 };
  const encoder = new TextEncoder();
  const queue = chunks.map((c) => (typeof c === "string" ? encoder.encode(c) : c));
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        const next = queue.shift();
        if (next === undefined) controller.close();
        else {
          state.pulled++;
          controller.enqueue(next);
        }
      },
      cancel() {
        state.cancelled = true;
      },
    },
    // Pulled only when read, so `pulled` counts the reads.
    { highWaterMark: 0 },
  );
  return { stream, state };
}

async function collect(chunks: (string | Uint8Array)[], headers = new Headers()) {
  const out: unknown[] = [];
  for await (const event of jsonEvents(body(chunks).stream, headers)) out.push(event);
  return out;
}

describe("jsonEvents (the SDK's SSE reader)", () => {
  it("puts together an event split across chunks, even inside a UTF-8 character", async () => {
    const bytes = new TextEncoder().encode('data: {"text":"héllo"}\n\ndata: {"n":2}\n\n');
    // Every single byte its own chunk: "é" is two bytes, and every line and blank line is cut.
    const chunks = [...bytes].map((b) => Uint8Array.of(b));
    expect(await collect(chunks)).toEqual([{ text: "héllo" }, { n: 2 }]);
    expect(await collect(['data: {"te', 'xt":"a"}\n', "\n", 'data: {"n"', ":2}\n\n"])).toEqual([
      { text: "a" },
      { n: 2 },
    ]);
  });

  it("reads a CRLF stream, with the CR and LF of one line ending in different chunks", async () => {
    expect(await collect(['data: {"a":1}\r\n\r\ndata: {"b":2}\r', "\n\r", "\ndata: [DONE]\r\n\r\n"])).toEqual([
      { a: 1 },
      { b: 2 },
    ]);
  });

  it("ignores comments, keep-alives, other fields and empty data; joins multi-line data", async () => {
    const events = await collect([
      ": keep-alive\n\n",
      "event: ping\n\n",
      "data:\n\n",
      'id: 7\nevent: chunk\ndata: {"x":\ndata: 1}\n\n',
      ":\n",
      'data:{"y":2}\n\n',
    ]);
    expect(events).toEqual([{ x: 1 }, { y: 2 }]);
  });

  it("stops at [DONE], yields nothing after it and releases the connection", async () => {
    const { stream, state } = body(['data: {"a":1}\n\ndata: [DONE]\n\ndata: {"b":2}\n\n', 'data: {"c":3}\n\n']);
    const out: unknown[] = [];
    for await (const event of jsonEvents(stream, new Headers())) out.push(event);
    expect(out).toEqual([{ a: 1 }]);
    expect(state.cancelled).toBe(true);
    expect(state.pulled).toBe(1);
  });

  it("drops an event the stream cut off (no blank line after it)", async () => {
    expect(await collect(['data: {"a":1}\n\n', 'data: {"b":2}'])).toEqual([{ a: 1 }]);
  });

  it("throws an error event as the typed error, with the catalogue's status and the request id", async () => {
    const error = {
      error: { message: "Too many.", type: "rate_limit_error", code: "rate_limit_requests", param: null },
    };
    const { stream, state } = body(['data: {"a":1}\n\n', `data: ${JSON.stringify(error)}\n\n`, 'data: {"b":2}\n\n']);
    const out: unknown[] = [];
    const failure = await (async () => {
      for await (const event of jsonEvents(stream, new Headers({ "x-request-id": "req_1" }))) out.push(event);
    })().catch((e: unknown) => e);
    expect(out).toEqual([{ a: 1 }]);
    expect(failure).toBeInstanceOf(RateLimitError);
    expect(failure).toMatchObject({
      status: 429,
      code: "rate_limit_requests",
      message: "Too many.",
      requestId: "req_1",
    });
    expect(state.cancelled).toBe(true);

    const unknown = await collect(['data: {"error":{"message":"odd","code":"no_such_code"}}\n\n']).catch((e) => e);
    expect(unknown).toBeInstanceOf(InternalServerError);
    expect((unknown as APIError).status).toBe(500);
  });
});
