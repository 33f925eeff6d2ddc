import { describe, expect, it } from "vitest";
import { StreamRelay } from "../src";

const event = (data: unknown) => `data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`;
const chunk = (content: string) => event({ choices: [{ index: 0, delta: { content } }], usage: null });
const usage = event({ choices: [], usage: { prompt_tokens: 11, completion_tokens: 3, total_tokens: 14 } });

function relayAll(relay: StreamRelay, pieces: string[]): string {
  let out = "";
  for (const piece of pieces) out += relay.push(Buffer.from(piece))?.toString() ?? "";
  out += relay.end()?.toString() ?? "";
  return out;
}

describe("the stream relay", () => {
  it("passes events through unchanged and reads the usage the client asked for", () => {
    const relay = new StreamRelay("chat", false);
    const stream = chunk("Hel") + chunk("lo") + usage + event("[DONE]");
    expect(relayAll(relay, [stream])).toBe(stream);
    expect(relay.usage).toEqual({ prompt: 11, completion: 3 });
  });

  it("takes out the usage event Switchyard asked for, even split across chunks", () => {
    const relay = new StreamRelay("chat", true);
    const stream = chunk("Hel") + chunk("lo") + usage + event("[DONE]");
    const pieces = [
      stream.slice(0, 7),
      stream.slice(7, 90),
      stream.slice(90, stream.length - 20),
      stream.slice(stream.length - 20),
    ];
    expect(relayAll(relay, pieces)).toBe(chunk("Hel") + chunk("lo") + event("[DONE]"));
    expect(relay.usage).toEqual({ prompt: 11, completion: 3 });
  });

  it("holds a partial event until it is complete, never splitting multi-byte characters", () => {
    const relay = new StreamRelay("chat", false);
    const text = chunk("naïve ☃");
    const bytes = Buffer.from(text);
    const first = relay.push(bytes.subarray(0, bytes.length - 4));
    expect(first).toBeUndefined();
    expect(relay.push(bytes.subarray(bytes.length - 4))?.toString()).toBe(text);
  });

  it("reads usage from the Responses and Messages event streams", () => {
    const responses = new StreamRelay("responses", false);
    relayAll(responses, [
      `event: response.output_text.delta\n${event({ delta: "hi" })}`,
      `event: response.completed\n${event({ response: { usage: { input_tokens: 5, output_tokens: 2, total_tokens: 7 } } })}`,
    ]);
    expect(responses.usage).toEqual({ prompt: 5, completion: 2 });
    const messages = new StreamRelay("messages", false);
    relayAll(messages, [
      `event: message_start\n${event({ type: "message_start", message: { usage: { input_tokens: 9, output_tokens: 1 } } })}`,
      `event: message_delta\n${event({ type: "message_delta", usage: { output_tokens: 4 } })}`,
    ]);
    expect(messages.usage).toEqual({ prompt: 9, completion: 4 });
  });
});

describe("tokens of a stream cut short", () => {
  it("counts the output events passed on: not the opener, the finish event or the usage", () => {
    const relay = new StreamRelay("chat", true);
    const opener = event({ choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] });
    const token = (content: string) => event({ choices: [{ index: 0, delta: { content }, finish_reason: null }] });
    const tool = event({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0 }] }, finish_reason: null }] });
    const finish = event({ choices: [{ index: 0, delta: {}, finish_reason: "length" }] });
    relayAll(relay, [opener + token("a"), token("b") + tool, `${finish}${usage}`]);
    expect(relay.delivered).toBe(3);
    expect(relay.usedSoFar(40)).toEqual({ prompt: 11, completion: 3 });
    const cut = new StreamRelay("completions", false);
    relayAll(cut, [event({ choices: [{ index: 0, text: "x", finish_reason: null }] }).repeat(5)]);
    expect(cut.usedSoFar(40)).toEqual({ prompt: 40, completion: 5 });
  });

  it("counts delta events of the Responses and Messages streams", () => {
    const responses = new StreamRelay("responses", false);
    relayAll(responses, [
      `event: response.created\n${event({ type: "response.created", response: {} })}`,
      `event: response.output_text.delta\n${event({ type: "response.output_text.delta", delta: "hi" })}`.repeat(4),
    ]);
    expect(responses.usedSoFar(7)).toEqual({ prompt: 7, completion: 4 });
    const messages = new StreamRelay("messages", false);
    relayAll(messages, [
      `event: message_start\n${event({ type: "message_start", message: { usage: { input_tokens: 9, output_tokens: 1 } } })}`,
      `event: content_block_delta\n${event({ type: "content_block_delta", delta: { text: "x" } })}`.repeat(3),
    ]);
    expect(messages.usedSoFar(50)).toEqual({ prompt: 9, completion: 3 });
  });
});
