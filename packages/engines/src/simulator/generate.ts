import { mixSeed, Random } from "@switchyard/core";
import type { SimulatorOptions } from "./options";
import { LoremStream, reasoningPieces, toolArguments } from "./text";
import { tokenize } from "./tokenizer";

/**
 * What one choice of an answer will contain, decided before anything is sent so that a stream
 * and a plain response to the same request carry the same text and the same token counts.
 */

export type FinishReason = "stop" | "length" | "tool_calls";

export interface PlannedToolCall {
  id: string;
  name: string;
  /** The JSON arguments as sent (cut short when max_tokens ran out). */
  arguments: string;
  /** The argument tokens, in order. */
  argumentPieces: string[];
}

export interface ChoicePlan {
  index: number;
  reasoning: string[];
  content: string[];
  toolCall: PlannedToolCall | undefined;
  finishReason: FinishReason;
  /** The stop string that ended the answer, if one did. */
  stopSequence: string | null;
  /** Tokens sent: reasoning + content + (1 for the tool's name + its argument tokens). */
  completionTokens: number;
}

export interface GenerationRequest {
  /** Hash of the prompt's text: the same prompt gives the same answer. */
  promptHash: number;
  /** The request's own `seed` field (0 when absent). */
  requestSeed: number;
  index: number;
  /** Most tokens this choice may produce: the client's max_tokens and the room left in the context. */
  limit: number;
  /** vLLM's `ignore_eos`: generate exactly `limit` tokens. */
  ignoreEos: boolean;
  stop: readonly string[];
  reasoning: boolean;
  tool: { name: string; parameters: unknown } | undefined;
}

const REASONING_TOKENS = { min: 12, max: 24 };

export function planChoice(options: SimulatorOptions, request: GenerationRequest): ChoicePlan {
  const random = new Random(mixSeed(options.seed, request.requestSeed, request.promptHash, request.index));
  const natural = random.int(options.answerTokens.min, options.answerTokens.max);
  const reasoningWanted = request.reasoning ? random.int(REASONING_TOKENS.min, REASONING_TOKENS.max) : 0;
  let budget = Math.max(0, request.limit);

  const reasoning = reasoningWanted > 0 ? reasoningPieces(random, Math.min(reasoningWanted, budget)) : [];
  if (reasoning.length === reasoningWanted) endSentence(reasoning);
  budget -= reasoning.length;
  const plan: ChoicePlan = {
    index: request.index,
    reasoning,
    content: [],
    toolCall: undefined,
    finishReason: "length",
    stopSequence: null,
    completionTokens: 0,
  };
  if (reasoning.length < reasoningWanted) return finish(plan);

  if (request.tool) {
    const args = JSON.stringify(toolArguments(request.tool.parameters, random));
    const id = `call_${random.hex(24)}`;
    if (budget < 1) return finish(plan);
    const pieces = tokenize(args);
    const sent = pieces.length <= budget - 1 ? pieces : pieces.slice(0, budget - 1);
    plan.toolCall = { id, name: request.tool.name, arguments: sent.join(""), argumentPieces: sent };
    plan.finishReason = sent.length === pieces.length ? "tool_calls" : "length";
    return finish(plan);
  }

  // With ignore_eos the answer runs until max_tokens, like vLLM's (finish_reason "length").
  const runsToLimit = request.ignoreEos && Number.isFinite(request.limit);
  const wanted = runsToLimit ? budget : natural;
  const count = Math.min(wanted, budget);
  const content = new LoremStream(random).take(count);
  const endedByItself = count === wanted && !runsToLimit;
  if (endedByItself) endSentence(content);
  plan.content = content;
  plan.finishReason = endedByItself ? "stop" : "length";
  applyStop(plan, request.stop);
  return finish(plan);
}

/** Make an answer that ended by itself end with a full stop (replacing its last token, so its length holds). */
function endSentence(pieces: string[]): void {
  const n = pieces.length;
  if (n < 2 || pieces[n - 1] === ".") return;
  if (pieces[n - 2] === "." || pieces[n - 2] === ",") pieces[n - 2] = " amen";
  pieces[n - 1] = ".";
}

function finish(plan: ChoicePlan): ChoicePlan {
  const toolTokens = plan.toolCall ? 1 + plan.toolCall.argumentPieces.length : 0;
  plan.completionTokens = plan.reasoning.length + plan.content.length + toolTokens;
  return plan;
}

/** Cut the content before the first stop string it contains, as servers do (the stop is not sent). */
function applyStop(plan: ChoicePlan, stop: readonly string[]): void {
  if (stop.length === 0 || plan.content.length === 0) return;
  const text = plan.content.join("");
  let at = -1;
  let matched: string | null = null;
  for (const candidate of stop) {
    if (candidate === "") continue;
    const i = text.indexOf(candidate);
    if (i >= 0 && (at < 0 || i < at)) {
      at = i;
      matched = candidate;
    }
  }
  if (at < 0) return;
  const kept: string[] = [];
  let length = 0;
  for (const piece of plan.content) {
    if (length + piece.length <= at) {
      kept.push(piece);
      length += piece.length;
      continue;
    }
    if (at > length) kept.push(piece.slice(0, at - length));
    break;
  }
  plan.content = kept;
  plan.finishReason = "stop";
  plan.stopSequence = matched;
}

export type TokenEventKind = "reasoning" | "content" | "tool_name" | "tool_arguments";
export interface TokenEvent {
  kind: TokenEventKind;
  text: string;
}

/** The tokens of a choice in the order a stream sends them, one per event. */
export function choiceEvents(plan: ChoicePlan): TokenEvent[] {
  const events: TokenEvent[] = [];
  for (const text of plan.reasoning) events.push({ kind: "reasoning", text });
  for (const text of plan.content) events.push({ kind: "content", text });
  if (plan.toolCall) {
    events.push({ kind: "tool_name", text: plan.toolCall.name });
    for (const text of plan.toolCall.argumentPieces) events.push({ kind: "tool_arguments", text });
  }
  return events;
}
