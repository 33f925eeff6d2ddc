// Following a batch until it ends: the progress bar (rate and ETA from `Pace`), the plain
// status lines off a terminal, and `sy batch wait`'s exit code.
import type { BatchObject } from "@switchyard/core";
import cliProgress from "cli-progress";
import yoctoSpinner from "yocto-spinner";
import { sleep } from "../../../http";
import type { Switchyard } from "../../../node/client";
import { Pace } from "../../../pace";
import { type CliContext, CliError, EXIT } from "../../context";
import { formatDuration, truncate } from "../../output";
import { done, endedBadly, fetchHint, summary } from "./describe";

/** How long `submit` (without --wait) waits for the server to check the file before it leaves it to `sy batch wait`. */
const CHECK_WAIT_MS = 120_000;

function stateText(batch: BatchObject): string {
  switch (batch.status) {
    case "validating":
      return "checking the file";
    case "in_progress":
      return done(batch) === 0 ? "starting (the model may be loading)" : "running";
    case "finalizing":
      return "writing the output";
    case "cancelling":
      return "cancelling";
    default:
      return batch.status;
  }
}

const BAR = { widest: 30, narrowest: 10, done: "\u2588", todo: "\u2591" };

/** Room kept for the counts, rate and ETA to grow, so the bar's layout holds as a batch runs. */
const BAR_SLACK = 8;

/** The layout the bar keeps: it only ever narrows (a layout step further, a shorter bar). */
interface BarFit {
  step: number;
  size: number;
}

/**
 * One line of the progress bar: `batch_... ████░░░░ 40% | 40/100 | 12/s | ETA 5 s | running`,
 * fitted to the terminal (one column spare): the bar narrows first (30 to 10 characters), then
 * the state loses its explanation, then the batch id goes (the command named it); the counts,
 * rate, ETA and state stay whole.
 */
function barLine(
  id: string,
  params: { progress: number; value: number; total: number },
  values: { state: string; rate: string; remaining: string; failed: string },
  columns: number | undefined,
  fit: BarFit,
): string {
  const progress = Math.min(1, Math.max(0, params.progress));
  const bar = (size: number) => {
    const filled = Math.round(progress * size);
    return BAR.done.repeat(filled) + BAR.todo.repeat(size - filled);
  };
  const tail = (state: string) =>
    ` ${Math.floor(progress * 100)}% | ${params.value}/${params.total}${values.failed} | ${values.rate} | ETA ${values.remaining} | ${state}`;
  if (!columns) return `${id} ${bar(BAR.widest)}${tail(values.state)}`;
  const room = columns - 1;
  const short = values.state.replace(/ \(.*\)$/, "");
  const steps = [
    [`${id} `, values.state],
    [`${id} `, short],
    ["", short],
  ] as const;
  for (let step = fit.step; step < steps.length; step++) {
    const [head, state] = steps[step] as (typeof steps)[number];
    const size = Math.min(fit.size, room - head.length - tail(state).length - BAR_SLACK);
    if (size >= BAR.narrowest) {
      fit.step = step;
      fit.size = size;
      return `${head}${bar(size)}${tail(state)}`;
    }
  }
  return truncate(`${bar(BAR.narrowest)}${tail(short)}`, room);
}

/**
 * Shows a batch as it runs: a progress bar with rate and ETA on a terminal, a line per status
 * change on a plain stderr, nothing with --json.
 */
class BatchView {
  private bar: cliProgress.SingleBar | undefined;
  private readonly pace = new Pace();
  private lastLine = "";

  constructor(private readonly ctx: CliContext) {}

  update(batch: BatchObject): void {
    if (this.ctx.json) return;
    const total = batch.request_counts.total;
    const finished = done(batch);
    this.pace.add(finished);
    if (!this.ctx.err.tty) {
      const line = `sy: ${batch.id} is ${batch.status}${total ? ` (${finished}/${total})` : ""}`;
      if (line.replace(/ \(.*\)$/, "") !== this.lastLine.replace(/ \(.*\)$/, "")) this.ctx.err.line(line);
      this.lastLine = line;
      return;
    }
    const rate = this.pace.rate;
    const eta = this.pace.eta(total - finished);
    const payload = {
      state: stateText(batch),
      rate: rate === null ? "-/s" : `${rate >= 10 ? Math.round(rate) : rate.toFixed(1)}/s`,
      // Not `eta`: cli-progress fills that placeholder itself.
      remaining: total && finished >= total ? "0 s" : eta === null ? "-" : formatDuration(eta * 1000),
      failed: batch.request_counts.failed ? `, ${batch.request_counts.failed} failed` : "",
    };
    if (!this.bar) {
      const id = batch.id;
      const columns = this.ctx.err.columns;
      const fit: BarFit = { step: 0, size: BAR.widest };
      this.bar = new cliProgress.SingleBar(
        {
          stream: this.ctx.err.stream,
          format: (_options, params, values: typeof payload) => barLine(id, params, values, columns, fit),
          hideCursor: true,
          fps: 5,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(Math.max(total, 1), finished, payload);
      return;
    }
    this.bar.setTotal(Math.max(total, 1));
    this.bar.update(finished, payload);
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

/**
 * Follow a batch until it ends (or, with `untilChecked`, until the file has been checked or
 * `CHECK_WAIT_MS` passed). Ctrl-C stops following; the batch goes on.
 */
export async function follow(
  ctx: CliContext,
  client: Switchyard,
  id: string,
  options: { intervalMs: number; untilChecked?: boolean },
): Promise<BatchObject> {
  const view = new BatchView(ctx);
  const signal = ctx.signal;
  try {
    if (options.untilChecked) {
      const spinner =
        ctx.err.tty && !ctx.json
          ? yoctoSpinner({ text: `Checking the file of ${id}`, stream: ctx.err.stream as NodeJS.WriteStream }).start()
          : undefined;
      try {
        const until = Date.now() + CHECK_WAIT_MS;
        for (;;) {
          const batch = await client.batches.retrieve(id, { signal });
          if (batch.status !== "validating" || Date.now() > until) return batch;
          await sleep(Math.min(options.intervalMs, 500), signal);
        }
      } finally {
        spinner?.stop();
      }
    }
    return await client.batches.wait(id, { intervalMs: options.intervalMs, signal, onProgress: (b) => view.update(b) });
  } catch (error) {
    if (signal.aborted) {
      throw new CliError(
        `Stopped following ${id}; the batch goes on (sy batch cancel ${id} stops it).`,
        EXIT.interrupted,
      );
    }
    throw error;
  } finally {
    view.stop();
  }
}

/** Exit 0 when the batch completed, else 1 with why; prints the batch (--json) or a summary line. */
export function finish(ctx: CliContext, batch: BatchObject, summaryTo: "stdout" | "stderr"): void {
  if (ctx.json) ctx.out.data(batch);
  if (batch.status !== "completed") throw endedBadly(batch);
  if (!ctx.json) (summaryTo === "stdout" ? ctx.out : ctx.err).para(summary(batch));
  const hint = fetchHint(batch);
  const columns = ctx.err.columns;
  if (ctx.json || !columns || hint.length <= columns) ctx.note(hint);
  else {
    // Too wide for one line: each command on a line of its own, whole, to be copied.
    for (const part of hint.split(/: (?=sy )|; /)) ctx.err.line(part.startsWith("sy ") ? `  ${part}` : `${part}:`);
  }
}

export async function wait(ctx: CliContext, options: { interval: number }, id: string): Promise<void> {
  const client = ctx.client();
  const batch = await follow(ctx, client, id, { intervalMs: options.interval * 1000 });
  finish(ctx, batch, "stdout");
}
