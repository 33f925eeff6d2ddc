import { createReadStream } from "node:fs";
import { formatBytes } from "@switchyard/core";

export interface InputLine {
  /** 1-based line number in the file (blank lines count). */
  line: number;
  text: string;
}

/** A request line as the scan sees it: its text, or only that it is longer than the limit. */
export type ScannedLine = InputLine | { line: number; tooLong: true };

export interface LineOptions {
  /** Request lines to pass over first (a resumed run). */
  skip?: number;
  /**
   * The longest line, in bytes without its line ending. A longer line is never held: once it
   * passes the limit its bytes are dropped as they are read, up to the next line break.
   */
  maxLineBytes: number;
}

/** A line longer than `batch.maxLineBytes`; the message names the line, never its content. */
export class LineTooLongError extends Error {
  constructor(
    readonly line: number,
    readonly limit: number,
  ) {
    super(`line ${line} is longer than the limit of ${formatBytes(limit)} per line (batch.maxLineBytes)`);
    this.name = "LineTooLongError";
  }
}

const NEWLINE = 0x0a;
const CR = 0x0d;

function isBlank(bytes: Buffer): boolean {
  for (const byte of bytes) {
    if (byte !== 0x20 && byte !== 0x09 && byte !== CR && byte !== 0x0b && byte !== 0x0c) return false;
  }
  return true;
}

/**
 * Split a byte stream into lines holding at most `max` bytes of any one line. Yields each
 * complete line, or `tooLong` as soon as a line passes the limit (before the rest of it is
 * read: a consumer that stops there reads no further); the rest of that line is skipped.
 */
async function* splitLines(
  chunks: AsyncIterable<Buffer>,
  max: number,
): AsyncGenerator<{ line: number; bytes: Buffer } | { line: number; tooLong: true }> {
  let parts: Buffer[] = [];
  let size = 0;
  let over = false;
  let line = 0;
  // One byte of slack while a line is open: its last byte may be the \r of a CRLF ending.
  const hold = max + 1;
  const finish = (): { line: number; bytes: Buffer } | { line: number; tooLong: true } | undefined => {
    if (over) return undefined;
    let bytes = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, size);
    if (bytes.length > 0 && bytes[bytes.length - 1] === CR) bytes = bytes.subarray(0, bytes.length - 1);
    return bytes.length > max ? { line, tooLong: true } : { line, bytes };
  };
  for await (const chunk of chunks) {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline === -1 ? chunk.length : newline;
      if (!over && end > start) {
        if (size + (end - start) > hold) {
          over = true;
          parts = [];
          yield { line: line + 1, tooLong: true };
        } else {
          parts.push(chunk.subarray(start, end));
          size += end - start;
        }
      }
      if (newline === -1) break;
      line++;
      const done = finish();
      if (done) yield done;
      parts = [];
      size = 0;
      over = false;
      start = newline + 1;
    }
  }
  if (over || size > 0) {
    line++;
    const done = finish();
    if (done) yield done;
  }
}

/**
 * The non-blank lines of a JSONL file, streamed with bounded memory: no line longer than
 * `maxLineBytes` is ever held (it comes as `tooLong`), and the file is never held whole.
 * `\r\n` endings are accepted; a blank line is not a request and is skipped everywhere
 * (validation, the run, resume), so request numbering is the same in every pass; an
 * over-long line counts as a request.
 */
export async function* scanRequestLines(file: string, options: LineOptions): AsyncGenerator<ScannedLine> {
  const input = createReadStream(file, { highWaterMark: 256 * 1024 });
  let skip = options.skip ?? 0;
  try {
    for await (const item of splitLines(input as AsyncIterable<Buffer>, options.maxLineBytes)) {
      if ("bytes" in item && (item.bytes.length === 0 || isBlank(item.bytes))) continue;
      if (skip > 0) {
        skip--;
        continue;
      }
      yield "bytes" in item ? { line: item.line, text: item.bytes.toString("utf8") } : item;
    }
  } finally {
    input.destroy();
  }
}

/** The request lines of a file; an over-long line throws `LineTooLongError` (nothing of it is held). */
export async function* readRequestLines(file: string, options: LineOptions): AsyncGenerator<InputLine> {
  for await (const item of scanRequestLines(file, options)) {
    if ("tooLong" in item) throw new LineTooLongError(item.line, options.maxLineBytes);
    yield item;
  }
}

/** The first request line of a file (to learn a batch's model before accepting it), if any. */
export async function firstRequestLine(file: string, maxLineBytes: number): Promise<InputLine | undefined> {
  for await (const line of readRequestLines(file, { maxLineBytes })) return line;
  return undefined;
}
