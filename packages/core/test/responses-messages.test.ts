import { describe, expect, it } from "vitest";
import {
  MessagesRequestSchema,
  MessagesResponseSchema,
  parseOrThrow,
  ResponseObjectSchema,
  ResponsesRequestSchema,
  SwitchyardError,
} from "../src";

function rejection(schema: Parameters<typeof parseOrThrow>[0], body: unknown) {
  try {
    parseOrThrow(schema, body);
  } catch (error) {
    if (error instanceof SwitchyardError) return { status: error.status, code: error.code, param: error.param };
    throw error;
  }
  throw new Error("expected a rejection");
}

describe("responses requests", () => {
  it.each([
    ["a string input", { model: "m", input: "Tell me a three sentence bedtime story about a unicorn." }],
    [
      "messages with instructions",
      {
        model: "m",
        instructions: "Talk like a pirate.",
        input: [
          { role: "developer", content: "Be brief." },
          { type: "message", role: "user", content: [{ type: "input_text", text: "Are semicolons optional?" }] },
        ],
        max_output_tokens: 256,
        stream: true,
      },
    ],
    [
      "an image part",
      {
        model: "m",
        input: [
          {
            role: "user",
            content: [
              { type: "input_text", text: "what is in this image?" },
              { type: "input_image", image_url: "https://example.org/cat.jpg", detail: "low" },
            ],
          },
        ],
      },
    ],
    [
      "a tool round trip",
      {
        model: "m",
        input: [
          { role: "user", content: "What is the weather in Paris?" },
          { type: "function_call", call_id: "call_1", name: "get_weather", arguments: '{"city":"Paris"}' },
          { type: "function_call_output", call_id: "call_1", output: '{"celsius":21}' },
        ],
        tools: [
          { type: "function", name: "get_weather", parameters: { type: "object" } },
          { type: "web_search_preview" },
        ],
        tool_choice: "auto",
      },
    ],
    ["item kinds it does not know", { model: "m", input: [{ type: "reasoning", id: "rs_1", summary: [] }] }],
  ])("accepts %s", (_name, body) => {
    expect(parseOrThrow(ResponsesRequestSchema, body)).toEqual(body);
  });

  it.each([
    ["no input", { model: "m" }, "missing_required_field", "input"],
    ["an empty input list", { model: "m", input: [] }, "invalid_field", "input"],
    ["an unknown role", { model: "m", input: [{ role: "robot", content: "x" }] }, "invalid_field", "input[0].role"],
    [
      "a text part without text",
      { model: "m", input: [{ role: "user", content: [{ type: "input_text" }] }] },
      "missing_required_field",
      "input[0].content[0].text",
    ],
    ["zero max_output_tokens", { model: "m", input: "x", max_output_tokens: 0 }, "invalid_field", "max_output_tokens"],
    [
      "a function tool without a name",
      { model: "m", input: "x", tools: [{ type: "function" }] },
      "missing_required_field",
      "tools[0].name",
    ],
  ])("rejects %s", (_name, body, code, param) => {
    expect(rejection(ResponsesRequestSchema, body)).toEqual({ status: 400, code, param });
  });

  it("parses a response object", () => {
    const response = {
      id: "resp_1",
      object: "response",
      created_at: 1741476542,
      status: "completed",
      model: "m",
      output: [
        {
          type: "message",
          id: "msg_1",
          status: "completed",
          role: "assistant",
          content: [{ type: "output_text", text: "Ahoy.", annotations: [] }],
        },
      ],
      usage: { input_tokens: 36, output_tokens: 87, total_tokens: 123 },
    };
    expect(ResponseObjectSchema.parse(response)).toEqual(response);
  });
});

describe("messages requests", () => {
  it.each([
    ["a plain message", { model: "m", max_tokens: 1024, messages: [{ role: "user", content: "Hello, world" }] }],
    [
      "system, blocks and stop sequences",
      {
        model: "m",
        max_tokens: 64,
        system: [{ type: "text", text: "You are terse." }],
        messages: [
          { role: "user", content: [{ type: "text", text: "Hi" }] },
          { role: "assistant", content: "Hello." },
          {
            role: "user",
            content: [
              { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
              { type: "text", text: "What is this?" },
            ],
          },
        ],
        stop_sequences: ["\n\nHuman:"],
        stream: true,
        temperature: 0.5,
        top_k: 5,
      },
    ],
    [
      "tools and a tool round trip",
      {
        model: "m",
        max_tokens: 64,
        tools: [{ name: "get_weather", input_schema: { type: "object", properties: { city: { type: "string" } } } }],
        tool_choice: { type: "tool", name: "get_weather" },
        messages: [
          { role: "user", content: "Weather in Paris?" },
          {
            role: "assistant",
            content: [{ type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Paris" } }],
          },
          { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "21 C" }] },
        ],
      },
    ],
  ])("accepts %s", (_name, body) => {
    expect(parseOrThrow(MessagesRequestSchema, body)).toEqual(body);
  });

  it.each([
    [
      "no max_tokens",
      { model: "m", messages: [{ role: "user", content: "x" }] },
      "missing_required_field",
      "max_tokens",
    ],
    ["no messages", { model: "m", max_tokens: 5, messages: [] }, "invalid_field", "messages"],
    [
      "a system role inside messages",
      { model: "m", max_tokens: 5, messages: [{ role: "system", content: "x" }] },
      "invalid_field",
      "messages[0].role",
    ],
    [
      "an image without a source",
      { model: "m", max_tokens: 5, messages: [{ role: "user", content: [{ type: "image" }] }] },
      "missing_required_field",
      "messages[0].content[0].source",
    ],
    [
      "temperature above 1",
      { model: "m", max_tokens: 5, messages: [{ role: "user", content: "x" }], temperature: 1.5 },
      "invalid_field",
      "temperature",
    ],
  ])("rejects %s", (_name, body, code, param) => {
    expect(rejection(MessagesRequestSchema, body)).toEqual({ status: 400, code, param });
  });

  it("parses a message response", () => {
    const message = {
      id: "msg_1",
      type: "message",
      role: "assistant",
      model: "m",
      content: [{ type: "text", text: "Hi!" }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: { input_tokens: 10, output_tokens: 3 },
    };
    expect(MessagesResponseSchema.parse(message)).toEqual(message);
  });
});
