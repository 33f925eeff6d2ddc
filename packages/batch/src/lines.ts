import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";

export interface InputLine {
  /** 1-based line number in the file (blank lines count). */
  line: number;
  text: string;
}

/**
 * The non-blank lines of a JSONL file, streamed: the file is never held in memory. `\r\n`
 * endings are accepted; a blank line is not a request and is skipped everywhere (validation,
 * the run, resume), so request numbering is the same in every pass.
 */
export async function* readRequestLines(file: string, start?: { skip: number }): AsyncGenerator<InputLine> {
  const input = createReadStream(file, { encoding: "utf8", highWaterMark: 256 * 1024 });
  const reader = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let line = 0;
  let skip = start?.skip ?? 0;
  try {
    for await (const raw of reader) {
      line++;
      if (raw.length === 0 || raw.trim().length === 0) continue;
      if (skip > 0) {
        skip--;
        continue;
      }
      yield { line, text: raw };
    }
  } finally {
    reader.close();
    input.destroy();
  }
}

/** The first request line of a file (to learn a batch's model before accepting it), if any. */
export async function firstRequestLine(file: string): Promise<InputLine | undefined> {
  for await (const line of readRequestLines(file)) return line;
  return undefined;
}
