import type { ChatCompletionRequest, MessagesRequest, ResponsesRequest } from "@switchyard/core";
import { fnv1a } from "@switchyard/core";
import { countTokens, PROMPT_COSTS } from "./tokenizer";

/**
 * Prompt accounting: tokens (for usage and the context-length check), a hash of the text (the
 * answer's seed), the number of images (for the vision check) and the last user text (for tools).
 */
export interface Prompt {
  tokens: number;
  hash: number;
  images: number;
  lastUserText: string;
}

const FNV_OFFSET = 0x811c9dc5;

class PromptCounter {
  tokens = 0;
  hash = FNV_OFFSET;
  images = 0;
  lastUserText = "";

  text(text: string): void {
    this.tokens += countTokens(text);
    this.hash = fnv1a(text, this.hash);
  }

  message(role: string): void {
    this.tokens += PROMPT_COSTS.perMessage;
    this.hash = fnv1a(role, this.hash);
  }

  image(source: string): void {
    this.images++;
    this.tokens += PROMPT_COSTS.perImage;
    this.hash = fnv1a(source, this.hash);
  }

  /** Anything else (audio, files, unknown parts): its JSON counts as text. */
  other(value: unknown): void {
    this.text(JSON.stringify(value) ?? "");
  }

  result(): Prompt {
    return { tokens: this.tokens, hash: this.hash, images: this.images, lastUserText: this.lastUserText };
  }
}

function partsText(parts: readonly { type: string; text?: unknown }[]): string {
  let out = "";
  for (const part of parts) if (typeof part.text === "string" && part.type.endsWith("text")) out += part.text;
  return out;
}

export function chatPrompt(body: ChatCompletionRequest): Prompt {
  const p = new PromptCounter();
  for (const message of body.messages) {
    p.message(message.role);
    const content = message.content;
    if (typeof content === "string") {
      p.text(content);
      if (message.role === "user") p.lastUserText = content;
    } else if (Array.isArray(content)) {
      for (const part of content as { type: string; [k: string]: unknown }[]) {
        if (part.type === "text" && typeof part.text === "string") p.text(part.text);
        else if (part.type === "refusal" && typeof part.refusal === "string") p.text(part.refusal);
        else if (part.type === "image_url") p.image(String((part.image_url as { url?: unknown })?.url ?? ""));
        else p.other(part);
      }
      if (message.role === "user") p.lastUserText = partsText(content as { type: string; text?: unknown }[]);
    }
    if ("name" in message && typeof message.name === "string") p.text(message.name);
    if (message.role === "assistant" && message.tool_calls) {
      for (const call of message.tool_calls) {
        p.text(call.function.name);
        p.text(call.function.arguments);
      }
    }
  }
  if (body.tools && body.tools.length > 0) p.other(body.tools);
  p.tokens += PROMPT_COSTS.replyPrimer;
  return p.result();
}

/** One prompt of /v1/completions: text, or token ids (counted one each). */
export function completionPrompt(prompt: string | readonly number[]): Prompt {
  const p = new PromptCounter();
  if (typeof prompt === "string") {
    p.text(prompt);
    p.lastUserText = prompt;
  } else {
    p.tokens = prompt.length;
    p.hash = fnv1a(prompt.join(","), FNV_OFFSET);
  }
  return p.result();
}

export function responsesPrompt(body: ResponsesRequest): Prompt {
  const p = new PromptCounter();
  if (body.instructions) {
    p.message("system");
    p.text(body.instructions);
  }
  if (typeof body.input === "string") {
    p.message("user");
    p.text(body.input);
    p.lastUserText = body.input;
  } else {
    for (const item of body.input as { type?: string; [k: string]: unknown }[]) {
      if (item.type === undefined || item.type === "message") {
        const role = String(item.role);
        p.message(role);
        if (typeof item.content === "string") {
          p.text(item.content);
          if (role === "user") p.lastUserText = item.content;
        } else if (Array.isArray(item.content)) {
          for (const part of item.content as { type: string; [k: string]: unknown }[]) {
            if ((part.type === "input_text" || part.type === "output_text") && typeof part.text === "string") {
              p.text(part.text);
            } else if (part.type === "input_image") p.image(String(part.image_url ?? part.file_id ?? ""));
            else p.other(part);
          }
          if (role === "user") p.lastUserText = partsText(item.content as { type: string; text?: unknown }[]);
        }
      } else if (item.type === "function_call") {
        p.message("assistant");
        p.text(String(item.name));
        p.text(String(item.arguments));
      } else if (item.type === "function_call_output") {
        p.message("tool");
        if (typeof item.output === "string") p.text(item.output);
        else p.other(item.output);
      } else {
        p.other(item);
      }
    }
  }
  if (body.tools && body.tools.length > 0) p.other(body.tools);
  p.tokens += PROMPT_COSTS.replyPrimer;
  return p.result();
}

export function messagesPrompt(body: MessagesRequest): Prompt {
  const p = new PromptCounter();
  if (body.system !== undefined) {
    p.message("system");
    if (typeof body.system === "string") p.text(body.system);
    else for (const block of body.system) p.text(block.text);
  }
  for (const message of body.messages) {
    p.message(message.role);
    if (typeof message.content === "string") {
      p.text(message.content);
      if (message.role === "user") p.lastUserText = message.content;
      continue;
    }
    for (const block of message.content as { type: string; [k: string]: unknown }[]) {
      if (block.type === "text" && typeof block.text === "string") p.text(block.text);
      else if (block.type === "image") {
        const source = block.source as { url?: unknown; data?: unknown };
        p.image(String(source?.url ?? source?.data ?? ""));
      } else if (block.type === "tool_use") {
        p.text(String(block.name));
        p.other(block.input);
      } else if (block.type === "tool_result") {
        if (typeof block.content === "string") p.text(block.content);
        else p.other(block.content ?? "");
      } else p.other(block);
    }
    if (message.role === "user") p.lastUserText = partsText(message.content as { type: string; text?: unknown }[]);
  }
  if (body.tools && body.tools.length > 0) p.other(body.tools);
  p.tokens += PROMPT_COSTS.replyPrimer;
  return p.result();
}
