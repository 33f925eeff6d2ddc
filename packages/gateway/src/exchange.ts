import type { ServerResponse } from "node:http";
import type { Dispatcher } from "undici";
import type { ApiKind } from "./kinds";
import { StreamRelay, type TokenUsage } from "./sse";

/**
 * One request to a model server through undici's low-level dispatch API: no per-request
 * AbortController, response stream or async iterator (the benchmark showed those add up on the
 * hot path). A handler object per request; abort, pause and resume go through its controller.
 */
abstract class Exchange implements Dispatcher.DispatchHandler {
  protected controller: Dispatcher.DispatchController | undefined;
  protected status = 0;
  private abortReason: Error | undefined;
  private settle!: { resolve: () => void; reject: (error: Error) => void };
  readonly done: Promise<void>;
  /** ms since the request started when the first body byte arrived. */
  firstByteAt: number | null = null;

  constructor(protected readonly started: number) {
    this.done = new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
  }

  abort(reason: Error): void {
    if (this.controller) this.controller.abort(reason);
    else this.abortReason = reason;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.abortReason) controller.abort(this.abortReason);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    this.status = statusCode;
  }

  onResponseEnd(): void {
    this.finish();
    this.settle.resolve();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.settle.reject(error);
  }

  protected finish(): void {}
}

/** Collects the whole answer (non-streaming requests, and error answers). */
export class BufferedExchange extends Exchange {
  private readonly chunks: Buffer[] = [];
  body: Buffer = Buffer.alloc(0);

  get statusCode(): number {
    return this.status;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.firstByteAt ??= performance.now() - this.started;
    this.chunks.push(chunk);
  }

  protected override finish(): void {
    this.body = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
  }
}

const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  connection: "keep-alive",
  "x-accel-buffering": "no",
};

/**
 * Streams server-sent events to the client as they arrive, with backpressure (the upstream is
 * paused while the client's socket is full). A non-200 answer is collected instead, for the
 * caller to turn into an error.
 */
export class StreamingExchange extends Exchange {
  private readonly relay: StreamRelay;
  private readonly errorChunks: Buffer[] = [];
  private streaming = false;

  constructor(
    started: number,
    private readonly res: ServerResponse,
    kind: ApiKind,
    stripUsage: boolean,
    /** Prompt tokens to account for when the stream ends before the server reports them. */
    private readonly promptGuess: number,
  ) {
    super(started);
    this.relay = new StreamRelay(kind, stripUsage);
  }

  get statusCode(): number {
    return this.status;
  }

  get started200(): boolean {
    return this.streaming;
  }

  /** The reported usage of a whole stream; else what passed before it ended (aborted, broken, or a server that does not report). */
  get usage(): TokenUsage {
    return this.relay.usage ?? this.relay.usedSoFar(this.promptGuess);
  }

  /** What the stream used up to now, whatever the server reported (for a stream cut short). */
  get usedSoFar(): TokenUsage {
    return this.relay.usedSoFar(this.promptGuess);
  }

  get errorBody(): Buffer {
    return Buffer.concat(this.errorChunks);
  }

  override onResponseStart(controller: Dispatcher.DispatchController, statusCode: number): void {
    super.onResponseStart(controller, statusCode);
    if (statusCode !== 200) return;
    this.streaming = true;
    this.res.writeHead(200, SSE_HEADERS);
    this.res.flushHeaders();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.streaming) {
      this.errorChunks.push(chunk);
      return;
    }
    this.firstByteAt ??= performance.now() - this.started;
    const out = this.relay.push(chunk);
    if (out && !this.res.write(out)) {
      controller.pause();
      this.res.once("drain", () => controller.resume());
    }
  }

  protected override finish(): void {
    if (!this.streaming) return;
    const rest = this.relay.end();
    if (rest) this.res.write(rest);
    this.res.end();
  }
}
