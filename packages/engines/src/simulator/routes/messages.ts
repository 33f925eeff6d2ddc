import { MessagesRequestSchema } from "@switchyard/core";
import {
  type Answer,
  checkContext,
  checkImages,
  checkModel,
  parseBody,
  requireCapability,
  type SimulatorContext,
  sse,
  stopList,
} from "../answer";
import { planChoice } from "../generate";
import { messagesPrompt } from "../prompt";

const STOP_REASON = { stop: "end_turn", length: "max_tokens", tool_calls: "tool_use" } as const;

/** Anthropic's Messages API: one text block of generated text. Tools and thinking are not simulated here. */
export function messagesAnswer(ctx: SimulatorContext, raw: unknown): Answer {
  const body = parseBody(MessagesRequestSchema, raw);
  checkModel(ctx, body.model);
  requireCapability(ctx, "chat", "Messages API");
  const prompt = messagesPrompt(body);
  checkImages(ctx, prompt.images);
  checkContext(ctx, prompt.tokens, body.max_tokens);
  const plan = planChoice(ctx.options, {
    promptHash: prompt.hash,
    requestSeed: 0,
    index: 0,
    limit: Math.min(body.max_tokens, ctx.options.maxModelLen - prompt.tokens),
    ignoreEos: (raw as { ignore_eos?: unknown }).ignore_eos === true,
    stop: stopList(body.stop_sequences),
    reasoning: false,
    tool: undefined,
  });

  const id = ctx.newId("msg_");
  const model = ctx.options.model;
  const text = plan.content.join("");
  const stopReason = plan.stopSequence !== null ? "stop_sequence" : STOP_REASON[plan.finishReason];
  const event = (type: string, fields: Record<string, unknown>) => sse.event(type, JSON.stringify({ type, ...fields }));

  return {
    stream: body.stream === true,
    promptTokens: prompt.tokens,
    completionTokens: plan.completionTokens,
    steps: Math.max(1, plan.content.length),
    body: () =>
      JSON.stringify({
        id,
        type: "message",
        role: "assistant",
        model,
        content: [{ type: "text", text }],
        stop_reason: stopReason,
        stop_sequence: plan.stopSequence,
        usage: { input_tokens: prompt.tokens, output_tokens: plan.completionTokens },
      }),
    head: () =>
      event("message_start", {
        message: {
          id,
          type: "message",
          role: "assistant",
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: prompt.tokens, output_tokens: 0 },
        },
      }),
    step(k) {
      let out = k === 0 ? event("content_block_start", { index: 0, content_block: { type: "text", text: "" } }) : "";
      const piece = plan.content[k];
      if (piece === undefined) return { text: out, tokens: 0 };
      out += event("content_block_delta", { index: 0, delta: { type: "text_delta", text: piece } });
      return { text: out, tokens: 1 };
    },
    tail: () =>
      event("content_block_stop", { index: 0 }) +
      event("message_delta", {
        delta: { stop_reason: stopReason, stop_sequence: plan.stopSequence },
        usage: { output_tokens: plan.completionTokens },
      }) +
      event("message_stop", {}),
  };
}
