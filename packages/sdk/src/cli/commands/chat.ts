import type { ChatCompletionRequest } from "@switchyard/core";
import type { Command } from "commander";
import { ModelNotReadyError } from "../../errors";
import type { Switchyard } from "../../node/client";
import { type CliContext, CliError } from "../context";
import { NUMBERS } from "../numbers";
import type { Run } from "../program";
import { chatSession } from "./chat-session";
import { ModelWaiter } from "./model-waiter";

const DEFAULT_MAX_WAIT = 15 * 60;

export function registerChat(program: Command, run: Run): void {
  program
    .command("chat")
    .description(
      "chat with a model, streaming the answer; without a prompt: a conversation on a terminal (/help inside), else the prompt from stdin",
    )
    .argument("<model>", "a model id or alias (sy models lists them)")
    .argument("[prompt]", "what to say; omitted: a conversation on a terminal, else read from stdin")
    .option("-s, --system <text>", "a system message")
    .option("--max-tokens <n>", "longest answer, in tokens (a whole number above 0)", NUMBERS.maxTokens)
    .option("--temperature <t>", "sampling temperature, 0 to 2", NUMBERS.temperature)
    .option(
      "--top-p <p>",
      "nucleus sampling: the share of probability mass to sample from, above 0 and at most 1",
      NUMBERS.topP,
    )
    .option(
      "--max-wait <seconds>",
      "how long to wait for a model that is starting or queued",
      NUMBERS.seconds,
      DEFAULT_MAX_WAIT,
    )
    .action(run(chat));

  program
    .command("embed")
    .description("embed texts with an embedding model")
    .argument("<model>", "an embedding model id or alias")
    .argument("<text...>", "one or more texts")
    .option(
      "--max-wait <seconds>",
      "how long to wait for a model that is starting or queued",
      NUMBERS.seconds,
      DEFAULT_MAX_WAIT,
    )
    .action(run(embed));
}

async function readStdin(ctx: CliContext): Promise<string> {
  if (ctx.stdin.isTTY) ctx.note("Type the prompt, then Ctrl-D on a line of its own:");
  const chunks: Buffer[] = [];
  for await (const chunk of ctx.stdin) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

interface ChatOptions {
  system?: string;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  maxWait: number;
}

async function chat(ctx: CliContext, options: ChatOptions, model: string, prompt: string | undefined): Promise<void> {
  // A person at a terminal with nothing to send yet: a conversation. Pipes, files and --json stay one-shot.
  if (prompt === undefined && ctx.stdin.isTTY && !ctx.json) return chatSession(ctx, options, model);
  const text = prompt ?? (await readStdin(ctx));
  if (!text.trim()) throw new CliError("Nothing to send: give a prompt, or pipe one on stdin.");
  const body: ChatCompletionRequest = {
    model,
    messages: [
      ...(options.system ? [{ role: "system" as const, content: options.system }] : []),
      { role: "user" as const, content: text },
    ],
    ...(options.maxTokens ? { max_tokens: options.maxTokens } : {}),
    ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
    ...(options.topP !== undefined ? { top_p: options.topP } : {}),
  };
  const client = ctx.client();
  const signal = ctx.signal;
  const waiter = new ModelWaiter(ctx, client, model, options.maxWait * 1000);
  waiter.begin();
  let atLineStart = true;
  try {
    if (ctx.json) {
      const completion = await client.chat.completions.create(body, { signal, waitForModel: waiter.policy });
      waiter.finish();
      ctx.out.data(completion);
      return;
    }
    const stream = await client.chat.completions.stream(body, { signal, waitForModel: waiter.policy });
    waiter.finish();
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      const delta = choice?.delta?.content;
      if (delta) {
        ctx.out.write(delta);
        atLineStart = delta.endsWith("\n");
      }
      if (choice?.finish_reason) finish = choice.finish_reason;
    }
    if (!atLineStart) ctx.out.write("\n");
    atLineStart = true;
    if (finish === "length" && ctx.err.tty)
      ctx.err.line(ctx.err.color.dim("(stopped at the token limit: --max-tokens)"));
  } catch (error) {
    waiter.finish();
    if (!atLineStart) ctx.out.write("\n");
    if (error instanceof ModelNotReadyError) throw waiter.gaveUp(error);
    throw error;
  }
}

async function embed(ctx: CliContext, options: { maxWait: number }, model: string, texts: string[]): Promise<void> {
  const client = ctx.client();
  const waiter = new ModelWaiter(ctx, client, model, options.maxWait * 1000);
  waiter.begin();
  let answer: Awaited<ReturnType<Switchyard["embeddings"]["create"]>>;
  try {
    answer = await client.embeddings.create(
      { model, input: texts },
      { signal: ctx.signal, waitForModel: waiter.policy },
    );
  } catch (error) {
    if (error instanceof ModelNotReadyError) throw waiter.gaveUp(error);
    throw error;
  } finally {
    waiter.finish();
  }
  if (ctx.json) {
    ctx.out.data(answer);
    return;
  }
  for (const item of answer.data) {
    const vector = typeof item.embedding === "string" ? [] : item.embedding;
    const text = texts[item.index] ?? "";
    if (!ctx.out.tty) {
      ctx.out.line(JSON.stringify(vector));
      continue;
    }
    const head = vector
      .slice(0, 4)
      .map((v) => v.toFixed(4))
      .join(", ");
    const shown = text.length > 40 ? `${text.slice(0, 39)}…` : text;
    ctx.out.line(
      `${ctx.out.color.bold(`[${item.index}]`)} ${vector.length} dimensions  [${head}, …]  ${ctx.out.color.dim(JSON.stringify(shown))}`,
    );
  }
}
