import { createInterface } from "node:readline";
import type { ChatCompletionRequest, ChatMessage, ModelObject } from "@switchyard/core";
import { ModelNotReadyError } from "../../errors";
import type { Switchyard } from "../../node/client";
import { type CliContext, CliError, EXIT } from "../context";
import { explainWithSuggestion } from "../explain";
import { closestNames, orList } from "../suggest";
import { ModelWaiter } from "./model-waiter";

export interface SessionOptions {
  system?: string;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  maxWait: number;
}

/** The slash commands of an interactive `sy chat`, as `/help` lists them. */
const COMMANDS: [name: string, args: string, what: string][] = [
  ["/model", "[NAME]", "switch to another model (the conversation goes with it); alone: the current one"],
  ["/system", "[TEXT]", "set the system prompt; alone: show it"],
  ["/clear", "", "forget the conversation (the model and system prompt stay)"],
  ["/help", "", "this list"],
  ["/exit", "", "leave (as Ctrl-D does)"],
];

/** The model a user typed, checked against the server's list: its entry, or why it will not do. */
async function findModel(
  client: Switchyard,
  typed: string,
  signal: AbortSignal,
): Promise<{ model: ModelObject } | { problem: string; code: number }> {
  const models = await client.models.list({ signal });
  const model = models.find((m) => m.id === typed || m.aliases.includes(typed));
  if (!model) {
    const names = closestNames(
      typed,
      models.filter((m) => m.capabilities.includes("chat")).map((m) => [m.id, ...m.aliases]),
    );
    const guess = names.length ? ` Did you mean ${orList(names)}?` : "";
    return {
      problem: `The model '${typed}' does not exist.${guess} \`sy models\` lists the available models.`,
      code: EXIT.notFound,
    };
  }
  if (!model.capabilities.includes("chat")) {
    return {
      problem: `${model.id} does not chat (it does ${model.capabilities.join(", ") || "nothing listed"}).`,
      code: EXIT.failure,
    };
  }
  return { model };
}

/**
 * `sy chat MODEL` on a terminal without a prompt: a conversation. Each message is sent with the
 * ones before it (and the system prompt), the answer streams to stdout; the prompt, notes and
 * errors go to stderr. Ctrl-C stops an answer (the request is aborted, the server cancels it);
 * Ctrl-C at an empty prompt, Ctrl-D or /exit leaves with exit 0. An error (a refused request, a
 * model that did not come up) is said and the conversation goes on.
 */
export async function chatSession(ctx: CliContext, options: SessionOptions, typedModel: string): Promise<void> {
  const client = ctx.client();
  const found = await findModel(client, typedModel, AbortSignal.timeout(15_000));
  if ("problem" in found) throw new CliError(found.problem, found.code);
  let model = typedModel;
  let system = options.system;
  let history: ChatMessage[] = [];
  const c = ctx.err.color;

  const rl = createInterface({
    input: ctx.stdin,
    output: ctx.err.stream,
    terminal: Boolean(ctx.err.stream.isTTY),
    prompt: c.bold("> "),
    historySize: 500,
  });
  /** The answer being streamed: Ctrl-C aborts it. */
  let answering: AbortController | undefined;
  let nextLine: ((line: string | null) => void) | undefined;
  let closed = false;

  const interrupt = () => {
    if (answering) {
      answering.abort();
      return;
    }
    if (rl.line) {
      // As a shell does: drop what was typed, a fresh prompt.
      rl.write(null, { ctrl: true, name: "e" });
      rl.write(null, { ctrl: true, name: "u" });
      ctx.err.write("^C\n");
      rl.prompt();
      return;
    }
    rl.close();
  };
  rl.on("SIGINT", interrupt);
  // With stderr not a terminal, readline reads lines and Ctrl-C is a signal.
  process.on("SIGINT", interrupt);
  rl.on("line", (line) => {
    const take = nextLine;
    nextLine = undefined;
    take?.(line); // a line typed while an answer streams is not taken
  });
  rl.on("close", () => {
    closed = true;
    answering?.abort();
    const take = nextLine;
    nextLine = undefined;
    take?.(null);
  });
  const ask = () =>
    new Promise<string | null>((resolve) => {
      if (closed) return resolve(null);
      nextLine = resolve;
      rl.prompt();
    });

  const help = () => {
    const width = Math.max(...COMMANDS.map(([n, a]) => `${n} ${a}`.length));
    for (const [name, args, what] of COMMANDS) ctx.err.para(`  ${`${name} ${args}`.padEnd(width)}  ${what}`);
    ctx.err.para(
      "  Ctrl-C stops an answer; at an empty prompt it leaves, as Ctrl-D does. Anything else is sent as your message.",
    );
  };

  ctx.err.para(
    `Chatting with ${found.model.id}${system ? " (with a system prompt)" : ""}. ${c.dim("/help lists the commands; Ctrl-D leaves.")}`,
  );

  /** One turn: the answer streamed to stdout; kept in the history when it came (even cut short by Ctrl-C). */
  const send = async (text: string) => {
    const user: ChatMessage = { role: "user", content: text };
    const body: ChatCompletionRequest = {
      model,
      messages: [...(system ? [{ role: "system" as const, content: system }] : []), ...history, user],
      ...(options.maxTokens ? { max_tokens: options.maxTokens } : {}),
      ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
      ...(options.topP !== undefined ? { top_p: options.topP } : {}),
    };
    const controller = new AbortController();
    answering = controller;
    const waiter = new ModelWaiter(ctx, client, model, options.maxWait * 1000);
    waiter.begin();
    let answer = "";
    let finish: string | null | undefined;
    try {
      const stream = await client.chat.completions.stream(body, {
        signal: controller.signal,
        waitForModel: waiter.policy,
      });
      waiter.finish();
      for await (const chunk of stream) {
        const choice = chunk.choices[0];
        const delta = choice?.delta?.content;
        if (delta) {
          ctx.out.write(delta);
          answer += delta;
        }
        if (choice?.finish_reason) finish = choice.finish_reason;
      }
    } catch (error) {
      waiter.finish();
      if (answer && !answer.endsWith("\n")) ctx.out.write("\n");
      if (controller.signal.aborted) {
        if (!closed) ctx.err.line(c.dim(answer ? "(stopped; what came is kept)" : "(stopped)"));
        if (answer) history.push(user, { role: "assistant", content: answer });
        return;
      }
      const message =
        error instanceof ModelNotReadyError
          ? waiter.gaveUp(error).message
          : (await explainWithSuggestion(error, ctx)).message;
      ctx.err.line(`sy: ${message}`);
      return;
    } finally {
      answering = undefined;
    }
    if (!answer.endsWith("\n")) ctx.out.write("\n");
    if (finish === "length") ctx.err.line(c.dim("(stopped at the token limit: --max-tokens)"));
    history.push(user, { role: "assistant", content: answer });
  };

  try {
    for (;;) {
      const line = await ask();
      if (line === null) break;
      const text = line.trim();
      if (!text) continue;
      const command = /^(\/[a-z]+)(?:\s+([\s\S]*))?$/.exec(text);
      if (!command) {
        await send(line);
        continue;
      }
      const [, name, rest = ""] = command;
      const arg = rest.trim();
      if (name === "/exit" || name === "/quit") break;
      if (name === "/help") help();
      else if (name === "/clear") {
        history = [];
        ctx.err.line("The conversation is forgotten; the next message starts afresh.");
      } else if (name === "/system") {
        if (arg) {
          system = arg;
          ctx.err.line("System prompt set; it goes with every message from now on.");
        } else ctx.err.line(system ? `System prompt: ${system}` : "No system prompt. /system TEXT sets one.");
      } else if (name === "/model") {
        if (!arg) {
          ctx.err.line(`Chatting with ${model}. /model NAME switches.`);
          continue;
        }
        try {
          const next = await findModel(client, arg, AbortSignal.timeout(10_000));
          if ("problem" in next) ctx.err.line(`sy: ${next.problem}`);
          else {
            model = arg;
            ctx.err.line(
              `Now chatting with ${next.model.id}${history.length ? "; the conversation so far goes with it (/clear forgets it)" : ""}.`,
            );
          }
        } catch (error) {
          ctx.err.line(`sy: ${(await explainWithSuggestion(error, ctx)).message}`);
        }
      } else {
        const guess = closestNames(
          name as string,
          COMMANDS.map(([n]) => n),
        );
        ctx.err.line(
          `sy: ${name} is not a command${guess.length ? ` (did you mean ${orList(guess)}?)` : ""}; /help lists them.`,
        );
      }
    }
  } finally {
    process.off("SIGINT", interrupt);
    if (!closed) rl.close();
    // Leave the shell's prompt on a line of its own.
    ctx.err.write("\n");
  }
}
