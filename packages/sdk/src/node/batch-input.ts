import { createReadStream } from "node:fs";

const NEWLINE = 0x0a;

/** The lines of a byte stream, each with its own line ending (`\n`, `\r\n`, or none for the last). */
async function* rawLines(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  let pending: Buffer = Buffer.alloc(0);
  for await (const chunk of source) {
    pending = pending.length ? Buffer.concat([pending, chunk]) : Buffer.from(chunk);
    let start = 0;
    let end = pending.indexOf(NEWLINE, start);
    while (end >= 0) {
      yield pending.subarray(start, end + 1);
      start = end + 1;
      end = pending.indexOf(NEWLINE, start);
    }
    pending = pending.subarray(start);
  }
  if (pending.length) yield pending;
}

/**
 * A batch input file with every request's `body.model` set to `model`, rewritten as it streams
 * (for `files.upload`). Line numbers stay as they are: blank lines, lines that are not JSON and
 * lines without a `body` object pass through untouched, so the server's validation still names
 * the right line. Rewritten lines are serialized again (`JSON.stringify`), endings kept.
 */
export async function* withBatchModel(source: AsyncIterable<Uint8Array>, model: string): AsyncGenerator<Uint8Array> {
  for await (const line of rawLines(source)) {
    const ending = line.at(-1) === NEWLINE ? (line.at(-2) === 0x0d ? "\r\n" : "\n") : "";
    const text = line.subarray(0, line.length - ending.length).toString("utf8");
    if (!text.trim()) {
      yield line;
      continue;
    }
    let request: unknown;
    try {
      request = JSON.parse(text);
    } catch {
      yield line;
      continue;
    }
    const body = (request as { body?: unknown } | null)?.body;
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      yield line;
      continue;
    }
    (body as Record<string, unknown>).model = model;
    yield Buffer.from(`${JSON.stringify(request)}${ending}`);
  }
}

export interface FirstRequest {
  /** Whether the first non-blank line is JSON at all. */
  json: boolean;
  url: string | undefined;
  model: string | undefined;
}

/** What the first request of a batch file names (its `url` and `body.model`), read without reading the rest. */
export async function peekBatchFile(file: string): Promise<FirstRequest> {
  const stream = createReadStream(file, { highWaterMark: 64 * 1024 });
  try {
    for await (const line of rawLines(stream)) {
      const text = line.toString("utf8").trim();
      if (!text) continue;
      try {
        const request = JSON.parse(text) as { url?: unknown; body?: { model?: unknown } };
        return {
          json: true,
          url: typeof request?.url === "string" ? request.url : undefined,
          model: typeof request?.body?.model === "string" ? request.body.model : undefined,
        };
      } catch {
        return { json: false, url: undefined, model: undefined };
      }
    }
    return { json: false, url: undefined, model: undefined };
  } finally {
    stream.destroy();
  }
}
