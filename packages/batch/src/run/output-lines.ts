import { randomBytes } from "node:crypto";
import type { BatchLineError } from "@switchyard/core";
import type { OutputFile } from "../output";
import { BatchUsageRows, type LineUsage } from "../usage";
import type { LineCounts } from "./resources";

/** One line's outcome, ready to be written. */
export interface Finished {
  customId: string;
  /** A results-file line, or an errors-file line. */
  line: string;
  ok: boolean;
  promptTokens: number;
  completionTokens: number;
  /**
   * The line's usage (its tokens are the fields above), written with the checkpoint that covers
   * the line (so a line a resumed run sends again is charged once, and a worker that dies loses
   * no usage).
   */
  usage?: LineUsage;
}

/** What the model server answered, as a failed line records it. */
export interface LineResponse {
  status_code: number;
  request_id: string;
  body: unknown;
}

/** The output file as these lines use it (an `OutputFile`; a fake in tests). */
export type OutputSink = Pick<OutputFile, "append" | "bufferedBytes" | "sync" | "close">;

/**
 * Output lines in OpenAI's batch output shape. Ids are a random prefix per run and the line's
 * index (one random draw per run, not per line), so the ids in a results file follow its order
 * like the lines do.
 */
export class LineFormat {
  private readonly prefix = `batch_req_${randomBytes(8).toString("hex")}`;

  id(index: number): string {
    return `${this.prefix}${index.toString(16).padStart(8, "0")}`;
  }

  /** An errors-file line. */
  error(index: number, customId: string, response: LineResponse | null, error: BatchLineError): string {
    return JSON.stringify({ id: this.id(index), custom_id: customId, response, error });
  }

  /** A results-file line around the server's own JSON (`raw`, one line), as it came. */
  result(index: number, customId: string, requestId: string, raw: string): string {
    return `{"id":"${this.id(index)}","custom_id":${JSON.stringify(customId)},"response":{"status_code":200,"request_id":${JSON.stringify(requestId)},"body":${raw}},"error":null}`;
  }

  /** A failed line's outcome. */
  failed(index: number, customId: string, response: LineResponse | null, error: BatchLineError): Finished {
    return {
      customId,
      line: this.error(index, customId, response, error),
      ok: false,
      promptTokens: 0,
      completionTokens: 0,
    };
  }
}

/**
 * The results and errors files, written in input order. Lines finish in any order; each waits
 * here until every line before it is written (`written` is the first that is not), so "all
 * before line N is written" is one number a checkpoint can store.
 */
export class OutputLines {
  /** Finished lines not yet written, by index. */
  private readonly finished = new Map<number, Finished>();
  /** Usage of the lines moved into the buffers since the last cut. */
  private usage = new BatchUsageRows();
  /** custom_id of every started line not yet written (for the expired lines' error entries). */
  private readonly started = new Map<number, string>();

  constructor(
    readonly results: OutputSink,
    readonly errors: OutputSink,
    /** Shared with the run; counts what has been written (from the checkpoint on). */
    readonly counts: LineCounts,
    /** The first line not written yet: the checkpoint's cursor when resumed. */
    public written: number,
  ) {}

  /** A line's request was sent. */
  start(index: number, customId: string): void {
    this.started.set(index, customId);
  }

  /** A line finished; it is written once the lines before it are (`advance`). */
  finish(index: number, outcome: Finished): void {
    this.finished.set(index, outcome);
  }

  /** Finished lines waiting for an earlier one. */
  get waiting(): number {
    return this.finished.size;
  }

  /** Move the finished lines at the head into the output buffers. */
  advance(): void {
    for (;;) {
      const head = this.finished.get(this.written);
      if (!head) break;
      this.finished.delete(this.written);
      this.started.delete(this.written);
      this.written++;
      this.append(head);
    }
  }

  /** Buffer a line in its file and count it (the caller keeps the order). */
  append(outcome: Finished): void {
    if (outcome.ok) {
      this.results.append(outcome.line);
      this.counts.completed++;
    } else {
      this.errors.append(outcome.line);
      this.counts.failed++;
    }
    this.counts.prompt += outcome.promptTokens;
    this.counts.completion += outcome.completionTokens;
    if (outcome.usage) this.usage.add(outcome.usage, outcome.promptTokens, outcome.completionTokens);
  }

  /** The finished lines, in input order, taken out of the window (a cancel keeps them, gaps and all). */
  takeFinished(): Finished[] {
    const pending = [...this.finished.entries()].sort((a, b) => a[0] - b[0]).map(([, outcome]) => outcome);
    this.finished.clear();
    return pending;
  }

  /** A finished line, taken out of the window. */
  takeOne(index: number): Finished | undefined {
    const outcome = this.finished.get(index);
    this.finished.delete(index);
    return outcome;
  }

  /** The custom_id of a started line not yet written. */
  customIdOf(index: number): string | undefined {
    return this.started.get(index);
  }

  /**
   * Cut both files at the same line now (synchronously) and return where that is, with a
   * `write` that resolves with both files' lengths at the cut once everything before it is
   * written and fsynced.
   */
  cut(): {
    cursorLine: number;
    counts: LineCounts;
    /** The usage of the lines this cut covers, to be saved with it. */
    usage: BatchUsageRows;
    write(): Promise<{ resultsBytes: number; errorsBytes: number }>;
  } {
    const results = this.results.sync();
    const errors = this.errors.sync();
    const usage = this.usage;
    this.usage = new BatchUsageRows();
    return {
      cursorLine: this.written,
      counts: { ...this.counts },
      usage,
      write: async () => {
        const [resultsBytes, errorsBytes] = await Promise.all([results, errors]);
        return { resultsBytes, errorsBytes };
      },
    };
  }

  async close(): Promise<void> {
    await this.results.close().catch(() => {});
    await this.errors.close().catch(() => {});
  }
}
