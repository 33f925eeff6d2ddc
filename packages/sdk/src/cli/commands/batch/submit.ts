// `sy batch submit`: everything that can be checked before a byte is uploaded (the file here,
// then the server's precheck), the upload, the create, and following the file's check.
import { createReadStream } from "node:fs";
import path from "node:path";
import { BATCH_ENDPOINTS, type BatchEndpoint } from "@switchyard/core";
import yoctoSpinner from "yocto-spinner";
import { APIError } from "../../../errors";
import { peekBatchFile, withBatchModel } from "../../../node/batch-input";
import type { Switchyard } from "../../../node/client";
import { type CliContext, CliError } from "../../context";
import { plural } from "../../output";
import { endedBadly } from "./describe";
import { finish, follow } from "./wait";

export interface SubmitOptions {
  model?: string;
  endpoint?: BatchEndpoint;
  wait?: boolean;
  metadata?: Record<string, string>;
  shared?: boolean;
  outputFolder?: string;
  project?: string;
  interval: number;
}

export async function submit(ctx: CliContext, options: SubmitOptions, file: string): Promise<void> {
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
