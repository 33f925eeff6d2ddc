import { type ChatCompletionRequest, ChatCompletionRequestSchema } from "@switchyard/core";
import {
  type Answer,
  checkContext,
  checkImages,
  checkModel,
  nowSeconds,
  parseBody,
  requireCapability,
  type SimulatorContext,
  SYSTEM_FINGERPRINT,
  sse,
  stopList,
} from "../answer";
import { badRequest } from "../errors";
import { type ChoicePlan, choiceEvents, planChoice, type TokenEvent } from "../generate";
import { chatPrompt, type Prompt } from "../prompt";

type ChosenTool = { name: string; parameters: unknown } | undefined;

/**
 * Which tool the answer calls, if any. Without the `tools` capability the simulator acts like
 * vLLM started without `--enable-auto-tool-choice`: `tool_choice` auto (the default when tools
 * are sent) or required/named is a 400; `none` ignores the tools.
 */
function chooseTool(ctx: SimulatorContext, body: ChatCompletionRequest, prompt: Prompt): ChosenTool {
  const tools = body.tools ?? [];
  const choice = body.tool_choice ?? (tools.length > 0 ? "auto" : "none");
  if (choice === "none") return undefined;
  if (tools.length === 0) {
    if (choice === "auto") return undefined;
    throw badRequest("When using `tool_choice`, `tools` must be set.", "tool_choice");
  }
  if (!ctx.capabilities.has("tools")) {
    if (choice === "auto") {
      throw badRequest(
        '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set',
        "tool_choice",
      );
    }
    throw badRequest(
      `Tool calling is not enabled for ${ctx.options.model} (it has no tools capability).`,
      "tool_choice",
    );
  }
  const asChosen = (tool: (typeof tools)[number]) => ({
    name: tool.function.name,
    parameters: tool.function.parameters,
  });
  if (typeof choice === "object") {
    const named = tools.find((tool) => tool.function.name === choice.function.name);
    if (!named) throw badRequest(`Tool '${choice.function.name}' has not been passed in \`tools\`.`, "tool_choice");
    return asChosen(named);
  }
  const said = prompt.lastUserText.toLowerCase();
  const mentioned = tools.find((tool) => said.includes(tool.function.name.toLowerCase()));
  if (mentioned) return asChosen(mentioned);
  return choice === "required" ? asChosen(tools[0] as (typeof tools)[number]) : undefined;
}

export function chatAnswer(ctx: SimulatorContext, raw: unknown): Answer {
  const body = parseBody(ChatCompletionRequestSchema, raw);
  checkModel(ctx, body.model);
  requireCapability(ctx, "chat", "Chat Completions API");
  const prompt = chatPrompt(body);
  checkImages(ctx, prompt.images);
  const tool = chooseTool(ctx, body, prompt);
  const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? undefined;
  checkContext(ctx, prompt.tokens, maxTokens);

  const limit = Math.min(maxTokens ?? Number.POSITIVE_INFINITY, ctx.options.maxModelLen - prompt.tokens);
  const ignoreEos = (raw as { ignore_eos?: unknown }).ignore_eos === true;
  const stop = stopList(body.stop);
  const reasoning = ctx.capabilities.has("reasoning");
  const plans: ChoicePlan[] = [];
  for (let index = 0; index < (body.n ?? 1); index++) {
    plans.push(
      planChoice(ctx.options, {
        promptHash: prompt.hash,
        requestSeed: body.seed ?? 0,
        index,
        limit,
        ignoreEos,
        stop,
        reasoning,
        tool,
      }),
    );
  }
  return renderChat(ctx, body, prompt.tokens, plans);
}

function renderChat(ctx: SimulatorContext, body: ChatCompletionRequest, promptTokens: number, plans: ChoicePlan[]) {
  const id = ctx.newId("chatcmpl-");
  const created = nowSeconds();
  const model = ctx.options.model;
  let completionTokens = 0;
  let reasoningTokens = 0;
  let steps = 0;
  for (const plan of plans) {
    completionTokens += plan.completionTokens;
    reasoningTokens += plan.reasoning.length;
    steps = Math.max(steps, plan.completionTokens);
  }
  const usage = {
    prompt_tokens: promptTokens,
    total_tokens: promptTokens + completionTokens,
    completion_tokens: completionTokens,
    ...(reasoningTokens > 0 ? { completion_tokens_details: { reasoning_tokens: reasoningTokens } } : {}),
  };
  const reasoning = ctx.capabilities.has("reasoning");

  let events: TokenEvent[][] | undefined;
  const chunkPrefix = `{"id":"${id}","object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(model)},"system_fingerprint":"${SYSTEM_FINGERPRINT}","choices":[`;
  const chunk = (index: number, delta: unknown, finish: string | null) =>
    sse.data(
      `${chunkPrefix}{"index":${index},"delta":${JSON.stringify(delta)},"logprobs":null,"finish_reason":${finish === null ? "null" : `"${finish}"`}}]}`,
    );

  const answer: Answer = {
    stream: body.stream === true,
    promptTokens,
    completionTokens,
    steps: Math.max(1, steps),
    body() {
      return JSON.stringify({
        id,
        object: "chat.completion",
        created,
        model,
        choices: plans.map((plan) => ({
          index: plan.index,
          message: {
            role: "assistant",
            content: plan.toolCall && plan.content.length === 0 ? null : plan.content.join(""),
            ...(reasoning ? { reasoning_content: plan.reasoning.length > 0 ? plan.reasoning.join("") : null } : {}),
            ...(plan.toolCall
              ? {
                  tool_calls: [
                    {
                      id: plan.toolCall.id,
                      type: "function",
                      function: { name: plan.toolCall.name, arguments: plan.toolCall.arguments },
                    },
                  ],
                }
              : {}),
          },
          logprobs: null,
          finish_reason: plan.finishReason,
        })),
        usage,
        system_fingerprint: SYSTEM_FINGERPRINT,
      });
    },
    head: () => "",
    step(k) {
      events ??= plans.map(choiceEvents);
      let text = "";
      let tokens = 0;
      for (let c = 0; c < plans.length; c++) {
        const plan = plans[c] as ChoicePlan;
        if (k === 0) text += chunk(plan.index, { role: "assistant", content: "" }, null);
        const event = events[c]?.[k];
        if (!event) continue;
        tokens++;
        text += chunk(plan.index, delta(plan, event), null);
      }
      return { text, tokens };
    },
    tail() {
      let text = "";
      for (const plan of plans) text += chunk(plan.index, {}, plan.finishReason);
      if (body.stream_options?.include_usage === true) {
        text += sse.data(`${chunkPrefix}],"usage":${JSON.stringify(usage)}}`);
      }
      return text + sse.done;
    },
  };
  return answer;
}

function delta(plan: ChoicePlan, event: TokenEvent): unknown {
  switch (event.kind) {
    case "reasoning":
      return { reasoning_content: event.text };
    case "content":
      return { content: event.text };
    case "tool_name":
      return {
        tool_calls: [
          { index: 0, id: plan.toolCall?.id, type: "function", function: { name: event.text, arguments: "" } },
        ],
      };
    case "tool_arguments":
      return { tool_calls: [{ index: 0, function: { arguments: event.text } }] };
  }
}
