import { describe, expect, it } from "vitest";
import {
  ChatCompletionChunkSchema,
  ChatCompletionRequestSchema,
  ChatCompletionSchema,
  parseOrThrow,
  SwitchyardError,
} from "../src";

/** Request bodies as OpenAI's API reference shows them. */
const accepted: Record<string, unknown> = {
  "plain text": {
    model: "meta-llama/Meta-Llama-3.1-8B-Instruct",
    messages: [
      { role: "system", content: "You are a helpful assistant." },
      { role: "user", content: "Hello!" },
    ],
  },
  "developer role and sampling params": {
    model: "m",
    messages: [
      { role: "developer", content: [{ type: "text", text: "Be brief." }] },
      { role: "user", content: "Hi" },
    ],
    temperature: 0.2,
    top_p: 0.9,
    max_tokens: 150,
    max_completion_tokens: 150,
    n: 1,
    seed: 42,
    stop: ["\n\n"],
    presence_penalty: 0.5,
    frequency_penalty: -0.5,
    logit_bias: { "50256": -100 },
    logprobs: true,
    top_logprobs: 3,
    user: "user-1234",
  },
  "image input (url and data url)": {
    model: "Qwen/Qwen2-VL-72B-Instruct",
    messages: [
      {
        role: "user",
        content: [
          { type: "text", text: "What's in this image?" },
          { type: "image_url", image_url: { url: "https://example.org/a.png", detail: "high" } },
          { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
        ],
      },
    ],
  },
  "tools with tool_choice and a tool round trip": {
    model: "m",
    messages: [
      { role: "user", content: "What's the weather like in Boston today?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          {
            id: "call_abc123",
            type: "function",
            function: { name: "get_current_weather", arguments: '{"location":"Boston, MA"}' },
          },
        ],
      },
      { role: "tool", tool_call_id: "call_abc123", content: '{"temperature": 22}' },
    ],
    tools: [
      {
        type: "function",
        function: {
          name: "get_current_weather",
          description: "Get the current weather in a given location",
          parameters: {
            type: "object",
            properties: { location: { type: "string" }, unit: { type: "string", enum: ["celsius", "fahrenheit"] } },
            required: ["location"],
          },
        },
      },
    ],
    tool_choice: { type: "function", function: { name: "get_current_weather" } },
    parallel_tool_calls: false,
  },
  "streaming with usage": {
    model: "m",
    messages: [{ role: "user", content: "Hello!" }],
    stream: true,
    stream_options: { include_usage: true },
  },
  "structured output": {
    model: "m",
    messages: [{ role: "user", content: "Give me JSON" }],
    response_format: {
      type: "json_schema",
      json_schema: { name: "answer", strict: true, schema: { type: "object", properties: { a: { type: "number" } } } },
    },
  },
  "nulls where the API allows them": {
    model: "m",
    messages: [{ role: "user", content: "x" }],
    temperature: null,
    max_tokens: null,
    stop: null,
    stream: null,
    tools: null,
    tool_choice: null,
  },
};

describe("chat completion requests", () => {
  it.each(Object.entries(accepted))("accepts %s", (_name, body) => {
    expect(() => parseOrThrow(ChatCompletionRequestSchema, body)).not.toThrow();
  });

  it("passes unknown fields through untouched, at every level", () => {
    const body = {
      model: "m",
      messages: [{ role: "user", content: [{ type: "video_url", video_url: { url: "https://v" } }], extra_field: 1 }],
      top_k: 20,
      guided_json: { type: "object" },
      chat_template_kwargs: { enable_thinking: false },
    };
    const parsed = parseOrThrow(ChatCompletionRequestSchema, body);
    expect(parsed).toEqual(body);
  });

  const rejected: [string, unknown, number, string, string | null, RegExp][] = [
    [
      "no model",
      { messages: [{ role: "user", content: "x" }] },
      400,
      "missing_required_field",
      "model",
      /Missing required field 'model'/,
    ],
    [
      "empty model",
      { model: "", messages: [{ role: "user", content: "x" }] },
      400,
      "invalid_field",
      "model",
      /must not be empty/,
    ],
    ["no messages", { model: "m" }, 400, "missing_required_field", "messages", /messages/],
    ["empty messages", { model: "m", messages: [] }, 400, "invalid_field", "messages", /at least one message/],
    [
      "unknown role",
      { model: "m", messages: [{ role: "robot", content: "x" }] },
      400,
      "invalid_field",
      "messages[0].role",
      /"user"/,
    ],
    [
      "content of wrong type",
      { model: "m", messages: [{ role: "user", content: 5 }] },
      400,
      "invalid_field",
      "messages[0].content",
      /expected a string or an array, got an integer/,
    ],
    [
      "text part without text",
      { model: "m", messages: [{ role: "user", content: [{ type: "text", text: 5 }] }] },
      400,
      "invalid_field",
      "messages[0].content[0].text",
      /expected a string, got an integer/,
    ],
    [
      "image part without url",
      { model: "m", messages: [{ role: "user", content: [{ type: "image_url", image_url: {} }] }] },
      400,
      "missing_required_field",
      "messages[0].content[0].image_url.url",
      /image_url\.url/,
    ],
    [
      "temperature as string",
      { model: "m", messages: [{ role: "user", content: "x" }], temperature: "hot" },
      400,
      "invalid_field",
      "temperature",
      /expected a number, got a string/,
    ],
    [
      "negative max_tokens",
      { model: "m", messages: [{ role: "user", content: "x" }], max_tokens: -1 },
      400,
      "invalid_field",
      "max_tokens",
      /max_tokens/,
    ],
    [
      "fractional n",
      { model: "m", messages: [{ role: "user", content: "x" }], n: 1.5 },
      400,
      "invalid_field",
      "n",
      /integer/,
    ],
    [
      "top_p above 1",
      { model: "m", messages: [{ role: "user", content: "x" }], top_p: 1.5 },
      400,
      "invalid_field",
      "top_p",
      /top_p/,
    ],
    [
      "bad tool_choice",
      { model: "m", messages: [{ role: "user", content: "x" }], tool_choice: "maybe" },
      400,
      "invalid_field",
      "tool_choice",
      /"auto"/,
    ],
    [
      "tool without a function name",
      { model: "m", messages: [{ role: "user", content: "x" }], tools: [{ type: "function", function: {} }] },
      400,
      "missing_required_field",
      "tools[0].function.name",
      /tools\[0\]\.function\.name/,
    ],
    [
      "tool message without tool_call_id",
      { model: "m", messages: [{ role: "tool", content: "x" }] },
      400,
      "missing_required_field",
      "messages[0].tool_call_id",
      /tool_call_id/,
    ],
    [
      "stream not a boolean",
      { model: "m", messages: [{ role: "user", content: "x" }], stream: "yes" },
      400,
      "invalid_field",
      "stream",
      /boolean/,
    ],
    ["body is an array", [{ model: "m" }], 400, "invalid_body", null, /must be a JSON object/],
    ["body is a string", "hello", 400, "invalid_body", null, /must be a JSON object/],
  ];

  it.each(rejected)("rejects %s, naming the field", (_name, body, status, code, param, message) => {
    let caught: unknown;
    try {
      parseOrThrow(ChatCompletionRequestSchema, body);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SwitchyardError);
    const err = caught as SwitchyardError;
    expect({ status: err.status, code: err.code, param: err.param }).toEqual({ status, code, param });
    expect(err.message).toMatch(message);
  });
});

describe("chat completion responses", () => {
  it("parses a completion and a stream chunk as model servers send them", () => {
    const completion = {
      id: "chatcmpl-1",
      object: "chat.completion",
      created: 1730000000,
      model: "m",
      choices: [
        {
          index: 0,
          message: {
            role: "assistant",
            content: null,
            reasoning_content: "thinking",
            tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: "{}" } }],
          },
          finish_reason: "tool_calls",
          logprobs: null,
        },
      ],
      usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
    };
    expect(ChatCompletionSchema.parse(completion)).toEqual(completion);
    const chunk = {
      id: "chatcmpl-1",
      object: "chat.completion.chunk",
      created: 1730000000,
      model: "m",
      choices: [{ index: 0, delta: { content: "Hel" }, finish_reason: null }],
      usage: null,
    };
    expect(ChatCompletionChunkSchema.parse(chunk)).toEqual(chunk);
    const usageChunk = { ...chunk, choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } };
    expect(ChatCompletionChunkSchema.parse(usageChunk).usage?.total_tokens).toBe(5);
  });
});
