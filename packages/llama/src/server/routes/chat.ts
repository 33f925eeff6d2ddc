import { apiError, type ChatCompletionRequest, ChatCompletionRequestSchema, parseOrThrow } from "@switchyard/core";
import type { ChatHistoryItem } from "node-llama-cpp";
import { EventStream, sendJson } from "../http";
import { checkModel, newId, nowSeconds, type RouteContext, samplingParams, usage } from "../requests";

type Message = ChatCompletionRequest["messages"][number];

function unsupported(ctx: RouteContext, capability: string) {
  return apiError("capability_not_supported", {
    model: ctx.modelId,
    capability,
    models: "none on this llama.cpp server",
  });
}

/** A message's text: a string, or text parts joined; anything else (images, audio) is refused. */
function textOf(ctx: RouteContext, content: unknown, at: number): string {
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  let text = "";
  for (const part of content as Array<{ type: string; text?: string; refusal?: string }>) {
    if (part.type === "text") text += part.text ?? "";
    else if (part.type === "refusal") text += part.refusal ?? "";
    else throw unsupported(ctx, `'${part.type}' content (messages[${at}])`);
  }
  return text;
}

/** OpenAI messages as node-llama-cpp's chat history, which the chat template renders. */
export function chatHistory(ctx: RouteContext, messages: readonly Message[]): ChatHistoryItem[] {
  return messages.map((message, at): ChatHistoryItem => {
    switch (message.role) {
      case "system":
      case "developer":
        return { type: "system", text: textOf(ctx, message.content, at) };
      case "user":
        return { type: "user", text: textOf(ctx, message.content, at) };
      case "assistant":
        if (message.tool_calls && message.tool_calls.length > 0) throw unsupported(ctx, "tool calling");
        return { type: "model", response: [textOf(ctx, message.content, at)] };
      default:
        throw unsupported(ctx, "tool calling");
    }
  });
}

function checkUnsupported(ctx: RouteContext, request: ChatCompletionRequest): void {
  const toolsWanted = (request.tools?.length ?? 0) > 0 && request.tool_choice !== "none";
  if (toolsWanted) throw unsupported(ctx, "tool calling");
  const format = request.response_format?.type;
  if (format === "json_object" || format === "json_schema") throw unsupported(ctx, "structured output");
}

export async function chatCompletions(ctx: RouteContext, raw: unknown): Promise<void> {
  const request = parseOrThrow(ChatCompletionRequestSchema, raw);
  checkModel(ctx, request.model);
  checkUnsupported(ctx, request);
  const prompt = ctx.engine.chatPrompt(chatHistory(ctx, request.messages));
  const params = samplingParams(ctx, request, prompt.tokens.length, "messages");
  params.stop = [...params.stop, ...prompt.stops];
  const id = newId("chatcmpl");
  const created = nowSeconds();
  const base = { id, created, model: ctx.modelId, system_fingerprint: "llama.cpp" };

  if (!request.stream) {
    const result = await ctx.engine.generate(prompt.tokens, params, ctx.signal, () => {});
    if (ctx.signal.aborted) return;
    sendJson(ctx.res, 200, {
      ...base,
      object: "chat.completion",
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: result.text },
          finish_reason: result.finishReason,
          logprobs: null,
        },
      ],
      usage: usage(prompt.tokens.length, result.completionTokens),
    });
    return;
  }

  const stream = new EventStream(ctx.res);
  const chunk = (delta: Record<string, unknown>, finishReason: string | null) => ({
    ...base,
    object: "chat.completion.chunk",
    choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
  });
  await stream.send(chunk({ role: "assistant", content: "" }, null));
  const result = await ctx.engine.generate(prompt.tokens, params, ctx.signal, (text) =>
    stream.send(chunk({ content: text }, null)),
  );
  if (ctx.signal.aborted) return;
  await stream.send(chunk({}, result.finishReason));
  if (request.stream_options?.include_usage) {
    await stream.send({
      ...base,
      object: "chat.completion.chunk",
      choices: [],
      usage: usage(prompt.tokens.length, result.completionTokens),
    });
  }
  stream.end();
}
