import { MessagesResponseSchema, ResponseObjectSchema } from "@switchyard/core";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { countTokens, type RunningSimulator, tokenize } from "../src";
import { MODEL, openai, post, readEvents, simulator } from "./helpers";

let sim: RunningSimulator;
let client: OpenAI;
beforeAll(async () => {
  sim = await simulator({ capabilities: ["chat", "completions"], maxModelLen: 2048 });
  client = openai(sim);
});
afterAll(() => sim.close());

describe("the Responses API", () => {
  it("answers with one assistant message", async () => {
    const response = await client.responses.create({ model: MODEL, input: "Tell me a story about a unicorn." });
    expect(ResponseObjectSchema.parse(response)).toBeTruthy();
    expect(response).toMatchObject({ object: "response", status: "completed", model: MODEL });
    expect(response.output).toHaveLength(1);
    const message = response.output[0]!;
    if (message.type !== "message") throw new Error("expected a message");
    expect(message.role).toBe("assistant");
    const part = message.content[0]!;
    if (part.type !== "output_text") throw new Error("expected output_text");
    expect(response.output_text).toBe(part.text);
    expect(response.usage).toMatchObject({
      input_tokens: 4 + 3 + countTokens("Tell me a story about a unicorn."),
      output_tokens: countTokens(part.text),
    });
    expect(response.usage!.total_tokens).toBe(response.usage!.input_tokens + response.usage!.output_tokens);
  });

  it("takes instructions and a message list, and stops at max_output_tokens as incomplete", async () => {
    const response = await client.responses.create({
      model: MODEL,
      instructions: "Talk like a pirate.",
      input: [{ role: "user", content: [{ type: "input_text", text: "Are semicolons optional?" }] }],
      max_output_tokens: 16,
      ignore_eos: true,
    } as OpenAI.Responses.ResponseCreateParamsNonStreaming);
    expect(response.status).toBe("incomplete");
    expect(response.incomplete_details).toEqual({ reason: "max_output_tokens" });
    expect(response.usage!.output_tokens).toBe(16);
    expect(response.usage!.input_tokens).toBe(
      2 * 4 + 3 + countTokens("Talk like a pirate.") + countTokens("Are semicolons optional?"),
    );
  });

  it("streams created, text deltas and completed, carrying the same text and usage", async () => {
    const plain = await client.responses.create({ model: MODEL, input: "Stream this." });
    const stream = await client.responses.create({ model: MODEL, input: "Stream this.", stream: true });
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    const types = events.map((e) => e.type);
    expect(types[0]).toBe("response.created");
    expect(types.at(-1)).toBe("response.completed");
    expect(types).toEqual(
      expect.arrayContaining([
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.output_item.done",
      ]),
    );
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const deltas = events.flatMap((e) => (e.type === "response.output_text.delta" ? [e.delta] : []));
    expect(deltas.join("")).toBe(plain.output_text);
    expect(deltas).toEqual(tokenize(plain.output_text));
    const completed = events.at(-1)!;
    if (completed.type !== "response.completed") throw new Error("expected response.completed");
    expect(completed.response.usage).toEqual(plain.usage);
    expect(completed.response.status).toBe("completed");
  });

  it("rejects a bad body with a 400 naming the field", async () => {
    const error = await client.responses
      .create({ model: MODEL, input: [{ role: "robot", content: "x" }] } as never)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("input[0].role");
  });
});

interface AnthropicEvent {
  type: string;
  [key: string]: unknown;
}

describe("the Anthropic Messages API", () => {
  const request = {
    model: MODEL,
    max_tokens: 256,
    system: "You are terse.",
    messages: [{ role: "user", content: "Hello, Claude-alike." }],
  };

  it("answers with one text block and Anthropic's usage", async () => {
    const res = await post(sim, "/v1/messages", request);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-switchyard-simulator")).toBe("1");
    const message = MessagesResponseSchema.parse(await res.json());
    expect(message).toMatchObject({ type: "message", role: "assistant", model: MODEL, stop_reason: "end_turn" });
    const text = (message.content[0] as { type: string; text: string }).text;
    expect(message.content).toEqual([{ type: "text", text }]);
    expect(message.usage).toEqual({
      input_tokens: 2 * 4 + 3 + countTokens("You are terse.") + countTokens("Hello, Claude-alike."),
      output_tokens: countTokens(text),
    });
  });

  it("streams message_start, text deltas and message_stop, with the same text", async () => {
    const plain = MessagesResponseSchema.parse(await (await post(sim, "/v1/messages", request)).json());
    const res = await post(sim, "/v1/messages", { ...request, stream: true });
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const events = await readEvents(res);
    const parsed = events.map((e) => ({ name: e.event, body: JSON.parse(e.data) as AnthropicEvent }));
    expect(parsed.every((e) => e.name === e.body.type)).toBe(true);
    const names = parsed.map((e) => e.name);
    expect(names.slice(0, 2)).toEqual(["message_start", "content_block_start"]);
    expect(names.slice(-3)).toEqual(["content_block_stop", "message_delta", "message_stop"]);
    const text = parsed
      .filter((e) => e.name === "content_block_delta")
      .map((e) => (e.body.delta as { type: string; text: string }).text)
      .join("");
    expect(text).toBe((plain.content[0] as { text: string }).text);
    const delta = parsed.find((e) => e.name === "message_delta")!.body;
    expect(delta).toMatchObject({
      delta: { stop_reason: "end_turn" },
      usage: { output_tokens: plain.usage.output_tokens },
    });
    expect((parsed[0]!.body.message as { usage: unknown }).usage).toMatchObject({
      input_tokens: plain.usage.input_tokens,
    });
  });

  it("stops at max_tokens and at stop sequences", async () => {
    const short = MessagesResponseSchema.parse(
      await (await post(sim, "/v1/messages", { ...request, max_tokens: 3 })).json(),
    );
    expect(short.stop_reason).toBe("max_tokens");
    expect(short.usage.output_tokens).toBe(3);

    const full = (
      MessagesResponseSchema.parse(await (await post(sim, "/v1/messages", request)).json()).content[0] as {
        text: string;
      }
    ).text;
    const stopAt = full.split(" ")[2]!;
    const stopped = MessagesResponseSchema.parse(
      await (await post(sim, "/v1/messages", { ...request, stop_sequences: [stopAt] })).json(),
    );
    expect(stopped).toMatchObject({ stop_reason: "stop_sequence", stop_sequence: stopAt });
    expect((stopped.content[0] as { text: string }).text).toBe(full.slice(0, full.indexOf(stopAt)));
  });

  it("answers errors in Anthropic's shape", async () => {
    const noMaxTokens = await post(sim, "/v1/messages", { model: MODEL, messages: request.messages });
    expect(noMaxTokens.status).toBe(400);
    expect(await noMaxTokens.json()).toEqual({
      type: "error",
      error: { type: "invalid_request_error", message: expect.stringMatching(/max_tokens/) },
    });
    const wrongModel = await post(sim, "/v1/messages", { ...request, model: "acme/other" });
    expect(wrongModel.status).toBe(404);
    expect(await wrongModel.json()).toMatchObject({ type: "error", error: { type: "not_found_error" } });
    const tooLong = await post(sim, "/v1/messages", { ...request, max_tokens: 4000 });
    expect(tooLong.status).toBe(400);
    expect(await tooLong.json()).toMatchObject({
      error: { message: expect.stringMatching(/maximum context length is 2048 tokens/) },
    });
  });
});
