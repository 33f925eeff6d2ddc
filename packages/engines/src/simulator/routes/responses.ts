import { ResponsesRequestSchema } from "@switchyard/core";
import {
  type Answer,
  checkContext,
  checkImages,
  checkModel,
  nowSeconds,
  parseBody,
  requireCapability,
  type SimulatorContext,
  sse,
} from "../answer";
import { planChoice } from "../generate";
import { responsesPrompt } from "../prompt";

/**
 * OpenAI's Responses API: one assistant message of generated text. Tools and reasoning items
 * are not simulated here (tools are ignored); chat/completions covers them.
 */
export function responsesAnswer(ctx: SimulatorContext, raw: unknown): Answer {
  const body = parseBody(ResponsesRequestSchema, raw);
  checkModel(ctx, body.model);
  requireCapability(ctx, "chat", "Responses API");
  const prompt = responsesPrompt(body);
  checkImages(ctx, prompt.images);
  const maxTokens = body.max_output_tokens ?? undefined;
  checkContext(ctx, prompt.tokens, maxTokens);
  const plan = planChoice(ctx.options, {
    promptHash: prompt.hash,
    requestSeed: 0,
    index: 0,
    limit: Math.min(maxTokens ?? Number.POSITIVE_INFINITY, ctx.options.maxModelLen - prompt.tokens),
    ignoreEos: (raw as { ignore_eos?: unknown }).ignore_eos === true,
    stop: [],
    reasoning: false,
    tool: undefined,
  });

  const id = ctx.newId("resp_");
  const itemId = ctx.newId("msg_");
  const createdAt = nowSeconds();
  const text = plan.content.join("");
  const complete = plan.finishReason !== "length";
  const usage = {
    input_tokens: prompt.tokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: plan.completionTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: prompt.tokens + plan.completionTokens,
  };
  const part = (partText: string) => ({ type: "output_text", text: partText, annotations: [], logprobs: [] });
  const item = (status: string, content: unknown[]) => ({
    id: itemId,
    type: "message",
    status,
    role: "assistant",
    content,
  });
  const response = (status: string, output: unknown[], withUsage: boolean) => ({
    id,
    object: "response",
    created_at: createdAt,
    status,
    model: ctx.options.model,
    output,
    ...(status === "completed" || status === "incomplete" ? { output_text: text } : {}),
    incomplete_details: status === "incomplete" ? { reason: "max_output_tokens" } : null,
    error: null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: body.previous_response_id ?? null,
    temperature: body.temperature ?? 1,
    top_p: body.top_p ?? 1,
    tool_choice: body.tool_choice ?? "auto",
    tools: [],
    store: false,
    text: { format: { type: "text" } },
    truncation: "disabled",
    metadata: body.metadata ?? {},
    usage: withUsage ? usage : null,
  });
  const finalStatus = complete ? "completed" : "incomplete";
  const finalItem = () => item(finalStatus, [part(text)]);

  let sequence = 0;
  const event = (type: string, fields: Record<string, unknown>) =>
    sse.event(type, JSON.stringify({ type, sequence_number: sequence++, ...fields }));

  return {
    stream: body.stream === true,
    promptTokens: prompt.tokens,
    completionTokens: plan.completionTokens,
    steps: Math.max(1, plan.content.length),
    body: () => JSON.stringify(response(finalStatus, [finalItem()], true)),
    head: () =>
      event("response.created", { response: response("in_progress", [], false) }) +
      event("response.in_progress", { response: response("in_progress", [], false) }),
    step(k) {
      let out = "";
      if (k === 0) {
        out += event("response.output_item.added", { output_index: 0, item: item("in_progress", []) });
        out += event("response.content_part.added", {
          item_id: itemId,
          output_index: 0,
          content_index: 0,
          part: part(""),
        });
      }
      const piece = plan.content[k];
      if (piece === undefined) return { text: out, tokens: 0 };
      out += event("response.output_text.delta", {
        item_id: itemId,
        output_index: 0,
        content_index: 0,
        delta: piece,
        logprobs: [],
      });
      return { text: out, tokens: 1 };
    },
    tail: () =>
      event("response.output_text.done", { item_id: itemId, output_index: 0, content_index: 0, text, logprobs: [] }) +
      event("response.content_part.done", { item_id: itemId, output_index: 0, content_index: 0, part: part(text) }) +
      event("response.output_item.done", { output_index: 0, item: finalItem() }) +
      event(complete ? "response.completed" : "response.incomplete", {
        response: response(finalStatus, [finalItem()], true),
      }),
  };
}
