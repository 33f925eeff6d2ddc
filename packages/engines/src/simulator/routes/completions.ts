import { CompletionRequestSchema } from "@switchyard/core";
import {
  type Answer,
  checkContext,
  checkModel,
  nowSeconds,
  parseBody,
  requireCapability,
  type SimulatorContext,
  SYSTEM_FINGERPRINT,
  sse,
  stopList,
} from "../answer";
import { type ChoicePlan, planChoice } from "../generate";
import { completionPrompt } from "../prompt";

/** `prompt` as a list of single prompts: text, or token ids. */
function prompts(prompt: string | string[] | number[] | number[][]): (string | number[])[] {
  if (typeof prompt === "string") return [prompt];
  if (typeof prompt[0] === "number") return [prompt as number[]];
  return prompt as string[] | number[][];
}

/** /v1/completions: several prompts give several choices each (index = prompt * n + choice), as in vLLM. */
export function completionAnswer(ctx: SimulatorContext, raw: unknown): Answer {
  const body = parseBody(CompletionRequestSchema, raw);
  checkModel(ctx, body.model);
  requireCapability(ctx, "completions", "Completions API");
  const maxTokens = body.max_tokens ?? ctx.options.defaultMaxTokens;
  const n = body.n ?? 1;
  const ignoreEos = (raw as { ignore_eos?: unknown }).ignore_eos === true;
  const stop = stopList(body.stop);
  const plans: ChoicePlan[] = [];
  let promptTokens = 0;
  prompts(body.prompt).forEach((one, p) => {
    const prompt = completionPrompt(one);
    checkContext(ctx, prompt.tokens, maxTokens);
    promptTokens += prompt.tokens;
    const limit = Math.min(maxTokens, ctx.options.maxModelLen - prompt.tokens);
    for (let j = 0; j < n; j++) {
      plans.push(
        planChoice(ctx.options, {
          promptHash: prompt.hash,
          requestSeed: body.seed ?? 0,
          index: p * n + j,
          limit,
          ignoreEos,
          stop,
          reasoning: false,
          tool: undefined,
        }),
      );
    }
  });

  const id = ctx.newId("cmpl-");
  const created = nowSeconds();
  const model = ctx.options.model;
  let completionTokens = 0;
  let steps = 0;
  for (const plan of plans) {
    completionTokens += plan.completionTokens;
    steps = Math.max(steps, plan.content.length);
  }
  const usage = {
    prompt_tokens: promptTokens,
    total_tokens: promptTokens + completionTokens,
    completion_tokens: completionTokens,
  };
  const chunkPrefix = `{"id":"${id}","object":"text_completion","created":${created},"model":${JSON.stringify(model)},"system_fingerprint":"${SYSTEM_FINGERPRINT}","choices":[`;
  const chunk = (index: number, text: string, finish: string | null) =>
    sse.data(
      `${chunkPrefix}{"index":${index},"text":${JSON.stringify(text)},"logprobs":null,"finish_reason":${finish === null ? "null" : `"${finish}"`}}]}`,
    );

  return {
    stream: body.stream === true,
    promptTokens,
    completionTokens,
    steps: Math.max(1, steps),
    body: () =>
      JSON.stringify({
        id,
        object: "text_completion",
        created,
        model,
        choices: plans.map((plan) => ({
          index: plan.index,
          text: plan.content.join(""),
          logprobs: null,
          finish_reason: plan.finishReason,
          stop_reason: plan.stopSequence,
        })),
        usage,
        system_fingerprint: SYSTEM_FINGERPRINT,
      }),
    head: () => "",
    step(k) {
      let text = "";
      let tokens = 0;
      for (const plan of plans) {
        const piece = plan.content[k];
        if (piece === undefined) continue;
        tokens++;
        text += chunk(plan.index, piece, null);
      }
      return { text, tokens };
    },
    tail() {
      let text = "";
      for (const plan of plans) text += chunk(plan.index, "", plan.finishReason);
      if (body.stream_options?.include_usage === true) {
        text += sse.data(`${chunkPrefix}],"usage":${JSON.stringify(usage)}}`);
      }
      return text + sse.done;
    },
  };
}
