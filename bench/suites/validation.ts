import { ChatCompletionRequestSchema, EmbeddingRequestSchema } from "@switchyard/core";
import { opsPerSecond, type Row, round, type Suite } from "../lib";

const chat = JSON.stringify({
  model: "meta-llama/Meta-Llama-3.1-8B-Instruct",
  messages: [
    { role: "system", content: "You are a helpful assistant." },
    { role: "user", content: "What are the symptoms of diabetes?" },
  ],
  temperature: 0.2,
  max_tokens: 150,
  stream: true,
  stream_options: { include_usage: true },
});

const tools = JSON.stringify({
  model: "Qwen/QwQ-32B",
  messages: [
    {
      role: "user",
      content: [
        { type: "text", text: "Weather in Boston?" },
        { type: "image_url", image_url: { url: "https://x/y.png" } },
      ],
    },
  ],
  tools: Array.from({ length: 4 }, (_, i) => ({
    type: "function",
    function: { name: `tool_${i}`, parameters: { type: "object", properties: { q: { type: "string" } } } },
  })),
  tool_choice: "auto",
});

const embed = JSON.stringify({
  model: "mistralai/Mistral-7B-Instruct-v0.3-embed",
  input: ["a", "b", "c"],
  encoding_format: "float",
});

/** What request validation (zod, core's schemas) costs on top of parsing the JSON at all. */
export const validation: Suite = {
  name: "validation",
  description: "JSON.parse alone vs JSON.parse + core schema validation, per request body",
  async run() {
    const rows: Row[] = [];
    for (const [name, body, schema] of [
      ["chat (2 messages, stream)", chat, ChatCompletionRequestSchema],
      ["chat (image part, 4 tools)", tools, ChatCompletionRequestSchema],
      ["embeddings (3 inputs)", embed, EmbeddingRequestSchema],
    ] as const) {
      const baseline = opsPerSecond(() => JSON.parse(body));
      const validated = opsPerSecond(() => schema.safeParse(JSON.parse(body)));
      rows.push({
        suite: "validation",
        case: `parse + validate: ${name}`,
        baseline: "JSON.parse only",
        metric: "ops/s",
        unit: "ops/s",
        value: round(validated, 0),
        baselineValue: round(baseline, 0),
        ratio: round(validated / baseline, 3),
        note: `+${round(1e6 / validated - 1e6 / baseline, 2)} µs per body`,
      });
    }
    return rows;
  },
};
