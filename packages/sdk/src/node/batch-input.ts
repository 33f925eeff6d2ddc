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
  /** The first request's `url` and `body.model` (a request: a JSON object with a `body` object). */
  url: string | undefined;
  model: string | undefined;
  /** The line number of the first request, when one was among the lines read. */
  line: number | undefined;
  /** Non-blank lines read, every one of them whole. */
  lines: number;
  /**
   * Whether the file is surely not a batch input: empty, or none of its first `maxLines`
   * non-blank lines (or none at all, in a shorter file) is a request. A first line longer than
   * the bytes read decides nothing.
   */
  notBatchInput: boolean;
}

/** How much of a file `peekBatchFile` reads at most. */
const PEEK_BYTES = 8 * 1024 * 1024;

function asRequest(text: string): { url?: unknown; body: { model?: unknown } } | undefined {
  try {
    const value = JSON.parse(text) as { url?: unknown; body?: unknown } | null;
    const body = value?.body;
    if (typeof value !== "object" || Array.isArray(value) || typeof body !== "object" || body === null)
      return undefined;
    if (Array.isArray(body)) return undefined;
    return value as { url?: unknown; body: { model?: unknown } };
  } catch {
    return undefined;
  }
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * What the first request of a batch file names (its `url` and `body.model`), and whether the file
 * is a batch input at all, from at most its first `maxLines` non-blank lines (and 8 MiB), without
 * reading the rest.
 */
export async function peekBatchFile(file: string, options: { maxLines?: number } = {}): Promise<FirstRequest> {
  const maxLines = options.maxLines ?? 20;
  const stream = createReadStream(file, { highWaterMark: 64 * 1024, end: PEEK_BYTES - 1 });
  const found: FirstRequest = {
    json: false,
    url: undefined,
    model: undefined,
    line: undefined,
    lines: 0,
    notBatchInput: false,
  };
  let number = 0;
  let whole = true;
  let bytes = 0;
  try {
    for await (const line of rawLines(stream)) {
      number++;
      bytes += line.length;
      // A line the byte limit cut off says nothing either way.
      if (line.at(-1) !== NEWLINE && bytes >= PEEK_BYTES) {
        whole = false;
        break;
      }
      const text = line.toString("utf8").trim();
      if (!text) continue;
      found.lines++;
      if (found.lines === 1) found.json = isJson(text);
      const request = asRequest(text);
      if (request) {
        found.line = number;
        found.url = typeof request.url === "string" ? request.url : undefined;
        found.model = typeof request.body.model === "string" ? request.body.model : undefined;
        return found;
      }
      if (found.lines >= maxLines) break;
    }
    found.notBatchInput = whole;
    return found;
  } finally {
    stream.destroy();
  }
}
