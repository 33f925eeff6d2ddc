import type { ServerResponse } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { startModelServer, startProxyLab, until } from "./fakes";

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((thing) => thing.close()));
});

const event = (data: unknown) => `data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`;
const token = (content: string) =>
  event({ object: "chat.completion.chunk", choices: [{ index: 0, delta: { content }, finish_reason: null }] });
const FINISH = event({ object: "chat.completion.chunk", choices: [{ index: 0, delta: {}, finish_reason: "stop" }] });
const USAGE = event({
  object: "chat.completion.chunk",
  choices: [],
  usage: { prompt_tokens: 9, completion_tokens: 2 },
});
const DONE = event("[DONE]");

function startStream(res: ServerResponse): void {
  res.writeHead(200, { "content-type": "text/event-stream" });
  res.flushHeaders();
}

async function askStream(url: string, signal?: AbortSignal): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "org/chat", stream: true, messages: [{ role: "user", content: "hi" }] }),
    ...(signal ? { signal } : {}),
  });
}

/** The next chunk the client reads, or a failure when none arrives in time (a relay that buffers). */
async function nextChunk(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
  const read = await Promise.race([
    reader.read(),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no chunk reached the client")), 2000)),
  ]);
  return read.done ? "" : Buffer.from(read.value).toString("utf8");
}

describe("the proxy path, streaming", () => {
  it("relays each event as it comes and records the usage it asked the server for", async () => {
    let second: () => void = () => {};
    const secondAllowed = new Promise<void>((resolve) => {
      second = resolve;
    });
    const server = await startModelServer((res) => {
      startStream(res);
      res.write(token("Hel"));
      // The rest only once the client has the first event: a gateway that buffers never gets here.
      void secondAllowed.then(() => res.end(token("lo") + FINISH + USAGE + DONE));
    });
    open.push(server);
    const gw = await startProxyLab([server.url]);
    open.push(gw);

    const answer = await askStream(gw.url);
    expect(answer.status).toBe(200);
    expect(answer.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const reader = (answer.body as ReadableStream<Uint8Array>).getReader();
    expect(await nextChunk(reader)).toBe(token("Hel"));
    second();
    let rest = "";
    for (let chunk = await nextChunk(reader); chunk; chunk = await nextChunk(reader)) rest += chunk;
    // The usage event the client did not ask for is Switchyard's: taken out of the stream.
    expect(rest).toBe(token("lo") + FINISH + DONE);
    expect(server.seen[0]?.body.stream_options).toEqual({ include_usage: true });
    await until(() => gw.records.length === 1);
    expect(gw.records[0]).toMatchObject({ status: 200, promptTokens: 9, completionTokens: 2, stream: true });
  });

  it("gives back the replica and the user's slot when the client goes away mid-stream", async () => {
    let upstreamClosed = false;
    const server = await startModelServer((res) => {
      startStream(res);
      res.write(token("Hel"));
      res.on("close", () => {
        upstreamClosed = true;
      });
      // ...and nothing more: the model is still generating when the client leaves.
    });
    open.push(server);
    const gw = await startProxyLab([server.url]);
    open.push(gw);

    const abort = new AbortController();
    const answer = await askStream(gw.url, abort.signal);
    const reader = (answer.body as ReadableStream<Uint8Array>).getReader();
    expect(await nextChunk(reader)).toBe(token("Hel"));
    expect(gw.replicas.inFlight).toBe(1);
    expect(gw.userInFlight()).toBe(1);
    abort.abort();

    await until(() => gw.replicas.inFlight === 0 && gw.userInFlight() === 0 && gw.records.length === 1);
    // The tokens that reached the client are charged; the model server's request is cancelled.
    expect(gw.records[0]).toMatchObject({ status: 499, completionTokens: 1, stream: true });
    await until(() => upstreamClosed);
  });
});
