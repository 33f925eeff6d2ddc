import { once } from "node:events";
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import path from "node:path";
import { BATCH_ENDPOINTS, type BatchEndpoint, type BatchError, type BatchObject } from "@switchyard/core";
import cliProgress from "cli-progress";
import { type Command, InvalidArgumentError, Option } from "commander";
import yoctoSpinner from "yocto-spinner";
import { isBatchEnded } from "../../batches";
import { APIError } from "../../errors";
import { sleep } from "../../http";
import { peekBatchFile, withBatchModel } from "../../node/batch-input";
import type { Switchyard } from "../../node/client";
import { type CliContext, CliError, EXIT } from "../context";
import { NUMBERS } from "../numbers";
import { formatDuration, formatTime, plural } from "../output";
import type { Run } from "../program";

/** How long `submit` (without --wait) waits for the server to check the file before it leaves it to `sy batch wait`. */
const CHECK_WAIT_MS = 120_000;
/** How long `cancel` waits for the in-flight requests to stop. */
const CANCEL_WAIT_MS = 60_000;

export function registerBatch(program: Command, run: Run): void {
  const batch = program
    .command("batch")
    .description("offline batches: submit a JSONL file of requests, follow it, get its results");
  const interval = () =>
    new Option("--interval <seconds>", "seconds between status checks").argParser(NUMBERS.seconds).default(2);

  batch
    .command("submit")
    .description(
      "upload a JSONL file of requests and start a batch; prints the batch id once the server has checked the file",
    )
    .argument("<file>", "the JSONL file: one {custom_id, method, url, body} per line")
    .option("-m, --model <model>", "the model; sets body.model on every line as the file is uploaded")
    .addOption(
      new Option("--endpoint <path>", "what every line calls (default: the first line's url)").choices(
        Object.keys(BATCH_ENDPOINTS),
      ),
    )
    .option("--wait", "follow the batch until it ends (progress bar on a terminal)")
    .option("--metadata <key=value...>", "labels kept with the batch", metadataPairs)
    .option("--project <name>", "the project (allocation) to charge; default: your only active one")
    .option(
      "--shared",
      "FILE is a path on the cluster's shared storage: the server reads it there (reference API), nothing is uploaded; needs --model",
    )
    .option("--output-folder <dir>", "with --shared: where the results folder goes (default: beside FILE)")
    .addOption(interval())
    .action(run(submit));

  batch
    .command("list")
    .description("your batches, newest first")
    .option("--limit <n>", "how many (1 to 100)", NUMBERS.limit, 20)
    .action(run(list));

  batch
    .command("status")
    .description("a batch's status, counts, files and errors")
    .argument("<id>")
    .action(run(status));

  batch
    .command("wait")
    .description("follow a batch until it ends: exit 0 when it completed, 1 when it failed, expired or was cancelled")
    .argument("<id>")
    .addOption(interval())
    .action(run(wait));

  batch
    .command("results")
    .description("the answers of an ended batch, as JSONL (its output file)")
    .argument("<id>")
    .option("-o, --output <file>", "write to this file instead of stdout")
    .option("--errors", "the failed requests (the errors file) instead of the answers")
    .action(run(results));

  batch
    .command("cancel")
    .description("stop a batch; answers already received are kept")
    .argument("<id>")
    .action(run(cancel));
}

function metadataPairs(value: string, previous: Record<string, string> | undefined): Record<string, string> {
  const at = value.indexOf("=");
  if (at < 1) throw new InvalidArgumentError("expected key=value.");
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
}

// ---- what a batch looks like to people ------------------------------------------------------

function done(batch: BatchObject): number {
  return batch.request_counts.completed + batch.request_counts.failed;
}

/** `line 2: Not valid JSON: ... (invalid_json_line)`: one validation problem per line. */
function describeErrors(errors: BatchError[]): string {
  return errors
    .map((e) => {
      const where = e.line === null ? "file" : `line ${e.line}`;
      const field = e.param ? `, ${e.param}` : "";
      return `  ${where}: ${e.message} (${e.code}${field})`;
    })
    .join("\n");
}

/** The message of a batch that ended without completing: exit 1 with this. */
function endedBadly(batch: BatchObject): CliError {
  const counts = `${batch.request_counts.completed} answered, ${batch.request_counts.failed} failed, of ${batch.request_counts.total}`;
  const errors = batch.errors?.data ?? [];
  if (batch.status === "failed") {
    const lines = errors.filter((e) => e.line !== null).length;
    const head =
      lines > 0
        ? `Batch ${batch.id} failed: the file was rejected and nothing ran. Problems${errors.length >= 100 ? " (the first 100)" : ""}:`
        : `Batch ${batch.id} failed${errors.length ? ":" : "."}`;
    return new CliError(errors.length ? `${head}\n${describeErrors(errors)}` : head);
  }
  if (batch.status === "expired") {
    return new CliError(
      `Batch ${batch.id} expired before it finished (${counts}); the rest are in its errors file as batch_expired (sy batch results ${batch.id} --errors).`,
    );
  }
  return new CliError(
    `Batch ${batch.id} was cancelled (${counts}); what was answered is kept (sy batch results ${batch.id}).`,
  );
}

function summary(batch: BatchObject): string {
  const c = batch.request_counts;
  return `Batch ${batch.id} ${batch.status}: ${c.completed} of ${plural(c.total, "request")} answered, ${c.failed} failed.`;
}

/** What to type next for a batch that completed: the command that fetches its answers (and its failures). */
function fetchHint(batch: BatchObject): string {
  const failed = batch.request_counts.failed
    ? `; the ${plural(batch.request_counts.failed, "failed request")}: sy batch results ${batch.id} --errors`
    : "";
  return `Get the answers: sy batch results ${batch.id} -o answers.jsonl${failed}`;
}

/**
 * Lines per second, and the time left at that pace. Counted from the first answer, not from
 * submission: until then the model may be loading, and that wait says nothing of how fast the
 * lines go once it answers (counting it made the first ETAs several times too long). Over the
 * last half minute at most, so the figure follows a pace that changes.
 */
export class Pace {
  private readonly samples: { at: number; done: number }[] = [];

  /** The count of finished lines seen at `at` (ms). */
  add(doneCount: number, at = Date.now()): void {
    // Before the first answer there is no pace to measure: wait for one.
    if (doneCount === 0) return;
    const last = this.samples.at(-1);
    // Fewer than before (another batch followed, a count reset): measure afresh.
    if (last && doneCount < last.done) this.samples.length = 0;
    this.samples.push({ at, done: doneCount });
    while (this.samples.length > 2 && at - (this.samples[0]?.at ?? at) > 30_000) this.samples.shift();
  }

  /** Lines per second; null until half a second has passed since the first answer was seen. */
  get rate(): number | null {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (!first || !last || last.at - first.at < 500) return null;
    return Math.max(0, (last.done - first.done) / ((last.at - first.at) / 1000));
  }

  /** Seconds until `remaining` more lines are done at this pace; null when there is no pace yet. */
  eta(remaining: number): number | null {
    const rate = this.rate;
    return rate ? remaining / rate : null;
  }
}

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
      this.bar = new cliProgress.SingleBar(
        {
          stream: this.ctx.err.stream,
          format: `${batch.id} {bar} {percentage}% | {value}/{total}{failed} | {rate} | ETA {remaining} | {state}`,
          hideCursor: true,
          barsize: 30,
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
async function follow(
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
function finish(ctx: CliContext, batch: BatchObject, summaryTo: "stdout" | "stderr"): void {
  if (ctx.json) ctx.out.data(batch);
  if (batch.status !== "completed") throw endedBadly(batch);
  if (!ctx.json) (summaryTo === "stdout" ? ctx.out : ctx.err).line(summary(batch));
  ctx.note(fetchHint(batch));
}

// ---- the commands ---------------------------------------------------------------------------

interface SubmitOptions {
  model?: string;
  endpoint?: BatchEndpoint;
  wait?: boolean;
  metadata?: Record<string, string>;
  shared?: boolean;
  outputFolder?: string;
  project?: string;
  interval: number;
}

async function submit(ctx: CliContext, options: SubmitOptions, file: string): Promise<void> {
  const client = ctx.client();
  const intervalMs = options.interval * 1000;
  let id: string;
  if (options.shared) {
    if (!options.model) throw new CliError("--shared needs --model (the reference API names the model).");
    if (!path.isAbsolute(file))
      throw new CliError(`With --shared, FILE is a path on the server: '${file}' must be absolute.`);
    const created = await client.batches.reference.create({
      model: options.model,
      input_file: file,
      ...(options.outputFolder ? { output_folder_path: options.outputFolder } : {}),
      ...(options.project ? { project: options.project } : {}),
    });
    id = created.batch_id;
    ctx.note(`Created ${id} for ${created.model} from ${file} on the server.`);
  } else {
    if (options.outputFolder) throw new CliError("--output-folder goes with --shared.");
    // What can be checked before a byte is sent, is: the file here, then the server's own checks.
    const peek = await peekBatchFile(file, { maxLines: PEEK_LINES }).catch((error: NodeJS.ErrnoException) => {
      throw new CliError(`Cannot read ${file}: ${error.code === "ENOENT" ? "no such file" : error.message}.`);
    });
    if (peek.notBatchInput) throw notBatchInput(file, peek.lines);
    const endpoint =
      options.endpoint ??
      (peek.url && peek.url in BATCH_ENDPOINTS ? (peek.url as BatchEndpoint) : "/v1/chat/completions");
    const model = options.model ?? peek.model;
    if (!model) {
      throw new CliError(
        `The first request of ${file}${peek.line && peek.line > 1 ? ` (line ${peek.line})` : ""} names no model (body.model): give --model MODEL to set it on every line.`,
      );
    }
    // Access, the model, its batch capability, the active-batch limit and the allocation (no
    // project, or its budget spent) are all said before anything is uploaded.
    await precheck(client, model, endpoint, options.project, ctx.signal);
    const fileObject = await upload(ctx, client, file, options.model);
    const created = await client.batches
      .create({
        input_file_id: fileObject.id,
        endpoint,
        ...(options.metadata ? { metadata: options.metadata } : {}),
        ...(options.project ? { project: options.project } : {}),
      })
      .catch(async (error: unknown) => {
        // Refused at once (unknown model, no access, the active-batch limit): the upload is of no use.
        await client.files.delete(fileObject.id).catch(() => {});
        throw error;
      });
    id = created.id;
    ctx.note(`Created ${id}${created.model ? ` for ${created.model}` : ""} (${endpoint}).`);
  }
  let batch = await follow(ctx, client, id, { intervalMs, untilChecked: true });
  if (batch.status === "failed") {
    if (ctx.json) ctx.out.data(batch);
    throw endedBadly(batch);
  }
  if (!ctx.json) ctx.out.line(id);
  if (options.wait) {
    batch = await follow(ctx, client, id, { intervalMs });
    finish(ctx, batch, "stderr");
    return;
  }
  if (ctx.json) ctx.out.data(batch);
  else if (batch.status === "validating") {
    ctx.note(`The server has not checked the file yet (its batch worker is busy). Follow it: sy batch wait ${id}`);
  } else {
    ctx.note(
      `The file passed the checks: ${plural(batch.request_counts.total, "request")}, ${batch.status}. Follow it: sy batch wait ${id}`,
    );
  }
}

/** How many non-blank lines `submit` reads for a request before it calls the file something else. */
const PEEK_LINES = 20;

/** A file that is not JSONL requests (empty, a JSON array, a CSV, a binary...): refused here, nothing uploaded. */
function notBatchInput(file: string, lines: number): CliError {
  const what =
    lines === 0
      ? "it is empty"
      : lines === 1
        ? "its one line is not a request"
        : `none of its ${lines < PEEK_LINES ? "" : "first "}${lines} lines is a request`;
  return new CliError(
    `${file} is not a batch input file: ${what}. A batch file is JSONL, one request per line: {"custom_id": "...", "method": "POST", "url": "/v1/chat/completions", "body": {...}}.`,
  );
}

/**
 * The server's checks of creating a batch for this model (your access, the model, its batch
 * capability, the active-batch limit, the project charged and its budget), before the upload: a refusal costs no upload, and its
 * error is the one create would give. A server without the precheck route is left to create.
 */
async function precheck(
  client: Switchyard,
  model: string,
  endpoint: BatchEndpoint,
  project: string | undefined,
  signal: AbortSignal,
) {
  try {
    await client.batches.precheck({ model, endpoint, ...(project ? { project } : {}) }, { signal });
  } catch (error) {
    if (error instanceof APIError && error.code === "route_not_found") return;
    throw error;
  }
}

async function upload(ctx: CliContext, client: Switchyard, file: string, model: string | undefined) {
  const name = path.basename(file);
  const spinner =
    ctx.err.tty && !ctx.json
      ? yoctoSpinner({ text: `Uploading ${name}`, stream: ctx.err.stream as NodeJS.WriteStream }).start()
      : undefined;
  const mb = (n: number) => (n < 1e3 ? `${n} B` : n < 1e6 ? `${Math.round(n / 1e3)} kB` : `${(n / 1e6).toFixed(1)} MB`);
  try {
    const source = model
      ? { filename: name, content: () => withBatchModel(createReadStream(file, { highWaterMark: 256 * 1024 }), model) }
      : file;
    const uploaded = await client.files.upload(source, {
      purpose: "batch",
      signal: ctx.signal,
      onProgress: ({ sentBytes, totalBytes }) => {
        if (spinner) spinner.text = `Uploading ${name}: ${mb(sentBytes)}${totalBytes ? ` of ${mb(totalBytes)}` : ""}`;
      },
    });
    spinner?.success(`Uploaded ${name} (${mb(uploaded.bytes)}) as ${uploaded.id}`);
    if (!spinner) ctx.note(`Uploaded ${name} (${uploaded.bytes} bytes) as ${uploaded.id}.`);
    return uploaded;
  } catch (error) {
    spinner?.error(`Upload of ${name} failed`);
    throw error;
  }
}

async function list(ctx: CliContext, options: { limit: number }): Promise<void> {
  const page = await ctx.client().batches.list({ limit: options.limit });
  if (ctx.json) {
    ctx.out.data(page);
    return;
  }
  if (page.data.length === 0 && ctx.out.tty) {
    ctx.out.line("No batches yet: sy batch submit FILE --model MODEL");
    return;
  }
  const c = ctx.out.color;
  ctx.out.table(
    ["ID", "STATUS", "MODEL", "DONE", "FAILED", "CREATED"],
    page.data.map((b) => [
      b.id,
      b.status,
      b.model || "-",
      `${done(b)}/${b.request_counts.total}`,
      String(b.request_counts.failed),
      formatTime(new Date(b.created_at * 1000).toISOString()),
    ]),
    (column, cell) => {
      if (column !== 1) return cell;
      if (cell === "completed") return c.green(cell);
      if (cell === "failed" || cell === "expired") return c.red(cell);
      if (cell === "cancelled") return c.dim(cell);
      return c.yellow(cell);
    },
  );
  if (page.has_more && ctx.out.tty) ctx.out.line(c.dim(`(more: --limit ${Math.min(100, options.limit * 2)})`));
}

async function status(ctx: CliContext, _options: unknown, id: string): Promise<void> {
  const client = ctx.client();
  const batch = await client.batches.retrieve(id);
  if (ctx.json) {
    ctx.out.data(batch);
    return;
  }
  const c = batch.request_counts;
  const at = (seconds: number | null) => (seconds === null ? "-" : formatTime(new Date(seconds * 1000).toISOString()));
  const rows: [string, string][] = [
    ["status", batch.status],
    ["model", batch.model || "-"],
    ["endpoint", batch.endpoint],
    ["requests", c.total ? `${done(batch)} of ${c.total} done (${c.completed} answered, ${c.failed} failed)` : "-"],
    ["created", at(batch.created_at)],
  ];
  const ended = batch.completed_at ?? batch.failed_at ?? batch.expired_at ?? batch.cancelled_at;
  if (ended) rows.push(["ended", at(ended)]);
  else if (batch.expires_at) rows.push(["expires", at(batch.expires_at)]);
  if (batch.input_file_id) {
    rows.push(["input", batch.input_file_id]);
    rows.push(["output", batch.output_file_id ?? "-"]);
    rows.push(["errors", batch.error_file_id ?? "-"]);
  } else {
    // A batch of the reference API: its files are on the server's shared storage.
    const detail = await client.batches.reference.retrieve(id);
    rows.push(["input", detail.input_file]);
    if (detail.results_file) rows.push(["results", detail.results_file]);
    if (detail.errors_file) rows.push(["errors", detail.errors_file]);
  }
  ctx.out.line(`${batch.id}`);
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [key, value] of rows) ctx.out.line(`  ${key.padEnd(width)}  ${value}`);
  const errors = batch.errors?.data ?? [];
  if (errors.length) {
    ctx.out.line(`  problems:`);
    ctx.out.line(describeErrors(errors).replace(/^ {2}/gm, "    "));
  }
}

async function wait(ctx: CliContext, options: { interval: number }, id: string): Promise<void> {
  const client = ctx.client();
  const batch = await follow(ctx, client, id, { intervalMs: options.interval * 1000 });
  finish(ctx, batch, "stdout");
}

async function results(ctx: CliContext, options: { output?: string; errors?: boolean }, id: string): Promise<void> {
  const client = ctx.client();
  const batch = await client.batches.retrieve(id);
  if (!isBatchEnded(batch.status)) {
    throw new CliError(
      `Batch ${id} is ${batch.status} (${done(batch)} of ${batch.request_counts.total} done); its results are there once it ends: sy batch wait ${id}`,
      EXIT.unavailable,
    );
  }
  const what = options.errors ? "failed request" : "answer";
  let source: AsyncIterable<Uint8Array> | undefined;
  if (batch.input_file_id === null) {
    // The reference API writes to shared storage: read it there when this machine sees it too.
    const detail = await client.batches.reference.retrieve(id);
    const file = options.errors ? detail.errors_file : detail.results_file;
    if (!file) {
      source = undefined;
    } else if (existsSync(file)) {
      source = createReadStream(file);
    } else {
      throw new CliError(
        `Batch ${id} was submitted with --shared (the reference API): its ${what}s are in ${file} on the server's shared storage, which this machine does not see.`,
      );
    }
  } else {
    const fileId = options.errors ? batch.error_file_id : batch.output_file_id;
    if (fileId) {
      const response = await client.files.content(fileId, { signal: ctx.signal });
      source = response.body ?? undefined;
    }
  }
  const sink = options.output ? createWriteStream(options.output) : ctx.out.stream;
  let lines = 0;
  try {
    if (source) {
      for await (const chunk of source) {
        for (const byte of chunk) if (byte === 0x0a) lines++;
        if (!sink.write(chunk)) await once(sink, "drain");
      }
    }
  } finally {
    if (options.output) {
      sink.end();
      await once(sink, "close");
    }
  }
  const where = options.output ? ` to ${options.output}` : "";
  if (!source) ctx.note(`Batch ${id} (${batch.status}) has no ${what}s${where ? `; ${options.output} is empty` : ""}.`);
  else ctx.note(`Wrote ${plural(lines, what)}${where}.`);
}

async function cancel(ctx: CliContext, _options: unknown, id: string): Promise<void> {
  const client = ctx.client();
  let batch = await client.batches.cancel(id);
  if (!isBatchEnded(batch.status)) {
    ctx.note(`Cancelling ${id}: stopping the requests in flight...`);
    batch = await client.batches.wait(id, { intervalMs: 250, timeoutMs: CANCEL_WAIT_MS, signal: ctx.signal });
  }
  if (ctx.json) {
    ctx.out.data(batch);
    return;
  }
  const c = batch.request_counts;
  if (batch.status !== "cancelled") {
    // It ended some other way while the cancel was on its way (its last request had just finished).
    ctx.out.line(summary(batch));
    return;
  }
  ctx.out.line(
    `Cancelled ${id}: ${c.completed} answered and ${c.failed} failed of ${c.total} are kept (sy batch results ${id}).`,
  );
}
