import type { ChatCompletionRequest, ModelObject } from "@switchyard/core";
import type { Command } from "commander";
import yoctoSpinner, { type Spinner } from "yocto-spinner";
import { ModelNotReadyError } from "../../errors";
import type { Switchyard } from "../../node/client";
import type { WaitForModel } from "../../wait";
import { type CliContext, CliError, EXIT } from "../context";
import { NUMBERS } from "../numbers";
import { formatDuration } from "../output";
import type { Run } from "../program";

const DEFAULT_MAX_WAIT = 15 * 60;

export function registerChat(program: Command, run: Run): void {
  program
    .command("chat")
    .description("chat with a model, streaming the answer; reads the prompt from stdin when none is given")
    .argument("<model>", "a model id or alias (sy models lists them)")
    .argument("[prompt]", "what to say; omitted: read from stdin")
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

/**
 * What the user sees while a cold model comes up: a live spinner on a terminal (its state,
 * queue position and ETA, refreshed from /v1/models every 2 s, and a countdown to the next
 * retry), or a line per change on a plain stderr; nothing with --json.
 */
class ModelWaiter {
  private readonly started = Date.now();
  private spinner: Spinner | undefined;
  private armed: NodeJS.Timeout | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private poller: NodeJS.Timeout | undefined;
  private active = false;
  private done = false;
  private status: Pick<ModelObject, "status" | "queue_position" | "eta_seconds"> | undefined;
  private retryAt: number | undefined;
  private lastLine = "";

  constructor(
    private readonly ctx: CliContext,
    private readonly client: Switchyard,
    private readonly model: string,
    private readonly maxWaitMs: number,
  ) {}

  /** The wait policy for the client: retry as Retry-After says, up to --max-wait. */
  get policy(): WaitForModel {
    return {
      maxWaitMs: this.maxWaitMs,
      onWait: (error, { retryInMs }) => {
        this.status = {
          status: error.modelState ?? "starting",
          queue_position: error.queuePosition,
          eta_seconds: error.etaSeconds,
        };
        this.retryAt = Date.now() + retryInMs;
        this.show();
      },
    };
  }

  get state(): string {
    return this.status?.status ?? "not ready";
  }

  get waitedMs(): number {
    return Date.now() - this.started;
  }

  /** Show the spinner if the answer has not started within a second (a server holding a cold start). */
  begin(): void {
    if (this.ctx.json) return;
    this.armed = setTimeout(() => this.show(), 1000);
  }

  private show(): void {
    if (this.done || this.ctx.json) return;
    if (!this.active) {
      this.active = true;
      if (this.ctx.err.tty) {
        this.spinner = yoctoSpinner({ text: this.text(), stream: process.stderr }).start();
        this.ticker = setInterval(() => {
          if (this.spinner) this.spinner.text = this.text();
        }, 1000);
      }
      void this.poll();
      this.poller = setInterval(() => void this.poll(), 2000);
    }
    if (this.spinner) this.spinner.text = this.text();
    else this.printLine();
  }

  private async poll(): Promise<void> {
    try {
      const model = await this.client.models.retrieve(this.model, { signal: AbortSignal.timeout(5000) });
      if (this.done) return;
      this.status = model;
      if (this.spinner) this.spinner.text = this.text();
      else this.printLine();
    } catch {
      // The status is a nicety; the request itself says what went wrong.
    }
  }

  private describe(): string {
    const s = this.status;
    if (!s) return `Waiting for ${this.model}`;
    const eta =
      s.eta_seconds === null
        ? s.status === "queued"
          ? ", time to wait unknown"
          : ""
        : s.eta_seconds < 1
          ? ", almost ready"
          : `, about ${formatDuration(s.eta_seconds * 1000)} to go`;
    if (s.status === "queued")
      return `${this.model} is queued${s.queue_position ? ` (position ${s.queue_position})` : ""}${eta}`;
    if (s.status === "starting") return `${this.model} is starting${eta}`;
    if (s.status === "live") return `${this.model} is live, waiting for the answer`;
    return `${this.model} is ${s.status}`;
  }

  private text(): string {
    const retry =
      this.retryAt && this.retryAt > Date.now()
        ? `; retrying in ${Math.ceil((this.retryAt - Date.now()) / 1000)} s`
        : "";
    return `${this.describe()} (waited ${formatDuration(this.waitedMs)}${retry}; Ctrl-C to cancel)`;
  }

  /** Without a terminal: one line per change of what the model is doing. */
  private printLine(): void {
    const line = this.describe();
    if (line === this.lastLine) return;
    this.lastLine = line;
    const retry =
      this.retryAt && this.retryAt > Date.now()
        ? ` (retrying in ${Math.ceil((this.retryAt - Date.now()) / 1000)} s)`
        : "";
    this.ctx.err.line(`sy: ${line}${retry}`);
  }

  finish(): void {
    this.done = true;
    clearTimeout(this.armed);
    clearInterval(this.ticker);
    clearInterval(this.poller);
    if (this.spinner) {
      this.spinner.clear();
      this.spinner.stop();
    }
  }

  /** The error for a model that did not come up within --max-wait (exit 5). */
  gaveUp(error: ModelNotReadyError): CliError {
    return new CliError(
      `${this.model} is still ${error.modelState ?? this.state} after waiting ${formatDuration(this.waitedMs)} (--max-wait ${Math.round(this.maxWaitMs / 1000)} s): ${error.message}`,
      EXIT.unavailable,
    );
  }
}

interface ChatOptions {
  system?: string;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  maxWait: number;
}

async function chat(ctx: CliContext, options: ChatOptions, model: string, prompt: string | undefined): Promise<void> {
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
