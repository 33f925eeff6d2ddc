import type { ServerResponse } from "node:http";
import { type AnswerHeaders, Exchange } from "@switchyard/upstream";
import type { TokenUsage } from "@switchyard/usage";
import type { Dispatcher } from "undici";
import type { ApiKind } from "./kinds";
import { StreamRelay } from "./sse";

const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  connection: "keep-alive",
  "x-accel-buffering": "no",
};

/**
 * The gateway's streaming request to a model server (a buffered one is @switchyard/upstream's
 * `BufferedExchange`): server-sent events go to the client as they arrive, with backpressure
 * (the upstream is paused while the client's socket is full). A non-200 answer is collected
 * instead, for the caller to turn into an error.
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

  override onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: AnswerHeaders,
  ): void {
    super.onResponseStart(controller, statusCode, headers);
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
