import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningLlamaServer } from "../src";
import { IGNORE_EOS, llamaServer, metric, openai, until } from "./helpers";

const MODEL = "tiny-chat";
const messages = [{ role: "user" as const, content: "Tell me about the world." }];

let server: RunningLlamaServer;
let client: OpenAI;

beforeAll(async () => {
  server = await llamaServer({ parallel: 2 });
  await server.ready;
  client = openai(server);
});
afterAll(() => server?.close());

/** A stream that would generate (nearly) the whole context window unless stopped. */
async function longStream(signal: AbortSignal) {
  const stream = await client.chat.completions.create(
    { model: MODEL, messages, max_tokens: 4000, ...IGNORE_EOS, stream: true },
    { signal },
  );
  const iterator = stream[Symbol.asyncIterator]();
  await iterator.next(); // the role chunk
  await iterator.next(); // the first generated text: the sequence is busy now
  return iterator;
}

describe("the llama.cpp engine server under load", () => {
  it("stops generating when the client goes away, as /metrics shows", async () => {
    const before = await metric(server, "tokens_predicted_total");
    const cancelledBefore = await metric(server, "requests_cancelled_total");
    const abort = new AbortController();
    await longStream(abort.signal);
    expect(await metric(server, "requests_processing")).toBe(1);
    abort.abort();
    await until(async () => (await metric(server, "requests_processing")) === 0);
    const generated = (await metric(server, "tokens_predicted_total")) - before;
    // Had generation gone on, the sequence would have stayed busy until 4,000 tokens.
    expect(generated).toBeGreaterThan(0);
    expect(generated).toBeLessThan(4000);
    expect(await metric(server, "requests_cancelled_total")).toBe(cancelledBefore + 1);
    // Nothing more is generated once the sequence is free.
    expect((await metric(server, "tokens_predicted_total")) - before).toBe(generated);
  });

  it("queues requests beyond --parallel, and answers every one", async () => {
    const abort = new AbortController();
    // Both sequences busy with answers that would take the whole window...
    await Promise.all([longStream(abort.signal), longStream(abort.signal)]);
    expect(await metric(server, "requests_processing")).toBe(2);
    // ...so four more requests wait in the queue.
    const queued = Array.from({ length: 4 }, (_, i) =>
      client.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: `Question ${i}` }],
        max_tokens: 10,
        seed: i,
        ...IGNORE_EOS,
      }),
    );
    await until(async () => (await metric(server, "requests_deferred")) === 4);
    // A fifth leaves while it waits: it is dropped from the queue, counted as cancelled.
    const cancelledBefore = await metric(server, "requests_cancelled_total");
    const impatient = new AbortController();
    const leaving = client.chat.completions
      .create({ model: MODEL, messages, max_tokens: 10 }, { signal: impatient.signal })
      .catch((error: unknown) => error);
    await until(async () => (await metric(server, "requests_deferred")) === 5);
    impatient.abort();
    expect(await leaving).toBeInstanceOf(OpenAI.APIUserAbortError);
    await until(async () => (await metric(server, "requests_deferred")) === 4);
    expect(await metric(server, "requests_cancelled_total")).toBe(cancelledBefore + 1);
    expect(await metric(server, "requests_processing")).toBe(2);
    abort.abort();
    const answers = await Promise.all(queued);
    expect(answers.map((a) => a.usage?.completion_tokens)).toEqual([10, 10, 10, 10]);
    expect(answers.every((a) => a.choices[0]?.finish_reason === "length")).toBe(true);
    expect(await metric(server, "requests_deferred")).toBe(0);
    await until(async () => (await metric(server, "requests_processing")) === 0);
  });
});
