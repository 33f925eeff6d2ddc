// `sy batch results`: an ended batch's answers (or its failed requests) as JSONL, from the
// server or, for a --shared batch, from the shared storage this machine sees.
import { once } from "node:events";
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { isBatchEnded } from "../../../batches";
import { type CliContext, CliError, EXIT } from "../../context";
import { plural } from "../../output";
import { done } from "./describe";

export async function results(
  ctx: CliContext,
  options: { output?: string; errors?: boolean },
  id: string,
): Promise<void> {
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
