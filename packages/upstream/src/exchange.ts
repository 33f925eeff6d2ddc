import type { Dispatcher } from "undici";

export type AnswerHeaders = Record<string, string | string[] | undefined>;

/** What a model server answered, whole. */
export interface UpstreamAnswer {
  status: number;
  headers: AnswerHeaders;
  body: Buffer;
}

const NO_HEADERS: AnswerHeaders = Object.freeze({});
const EMPTY = Buffer.alloc(0);

/**
 * One request to a model server through undici's low-level dispatch API: a handler object per
 * request and nothing else, no AbortController, response stream or async iterator (the gateway
 * and batch benchmarks showed those in the profile). `done` settles with the handler itself, so
 * waiting for it allocates no result object. Abort, pause and resume go through undici's
 * controller. Subclasses decide what to do with the body (`onResponseData`).
 */
export abstract class Exchange implements Dispatcher.DispatchHandler {
  protected controller: Dispatcher.DispatchController | undefined;
  private abortReason: Error | undefined;
  private settle!: { resolve: (self: Exchange) => void; reject: (error: Error) => void };
  readonly done: Promise<this> = new Promise<this>((resolve, reject) => {
    this.settle = { resolve: resolve as (self: Exchange) => void, reject };
  });
  status = 0;
  headers: AnswerHeaders = NO_HEADERS;
  /** ms after `started` (a `performance.now()`) when the first body byte arrived. */
  firstByteAt: number | null = null;

  constructor(protected readonly started = 0) {}

  /** Stop the request wherever it is (before it started, too); `done` rejects with `reason`. */
  abort(reason: Error): void {
    if (this.controller) this.controller.abort(reason);
    else this.abortReason = reason;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.abortReason) controller.abort(this.abortReason);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: AnswerHeaders): void {
    this.status = statusCode;
    this.headers = headers;
  }

  abstract onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void;

  onResponseEnd(): void {
    this.finish();
    this.settle.resolve(this);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.settle.reject(error);
  }

  /** Called once the whole answer is in, before `done` resolves. */
  protected finish(): void {}
}

/** Collects the whole answer: status, headers and body. */
export class BufferedExchange extends Exchange implements UpstreamAnswer {
  private readonly chunks: Buffer[] = [];
  body: Buffer = EMPTY;

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.firstByteAt ??= performance.now() - this.started;
    this.chunks.push(chunk);
  }

  protected override finish(): void {
    const { chunks } = this;
    this.body = chunks.length === 1 ? (chunks[0] as Buffer) : chunks.length === 0 ? EMPTY : Buffer.concat(chunks);
  }
}
