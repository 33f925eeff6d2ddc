import type { IncomingMessage } from "node:http";
import { apiError } from "@switchyard/core";
import { checkJsonDepth, formatBytes } from "@switchyard/http";

/** Collects a request body with a size cap (events, not an async iterator: cheaper per request). */
class BodyReader {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  readonly done: Promise<Buffer>;
  private resolve!: (body: Buffer) => void;
  private reject!: (error: unknown) => void;

  constructor(
    private readonly req: IncomingMessage,
    private readonly max: number,
  ) {
    this.done = new Promise<Buffer>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    req.on("data", this.onData);
    req.once("end", this.onEnd);
    req.once("error", this.onError);
  }

  private readonly onData = (chunk: Buffer) => {
    this.size += chunk.length;
    if (this.size > this.max) {
      this.detach();
      this.req.resume(); // drain the rest, then answer 413
      this.reject(apiError("payload_too_large", { limit: formatBytes(this.max) }));
      return;
    }
    this.chunks.push(chunk);
  };

  private readonly onEnd = () => {
    this.detach();
    this.resolve(this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks));
  };

  private readonly onError = (error: unknown) => {
    this.detach();
    this.reject(error);
  };

  private detach(): void {
    this.req.off("data", this.onData);
    this.req.off("end", this.onEnd);
    this.req.off("error", this.onError);
  }
}

/** Read the whole body, refusing more than `max` bytes (413), before reading when the length says so. */
export function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (declared > max) return Promise.reject(apiError("payload_too_large", { limit: formatBytes(max) }));
  return new BodyReader(req, max).done;
}

/** The body as JSON: 400 when empty, nested deeper than `maxDepth`, or not JSON. */
export function parseJson(body: Buffer, maxDepth: number): unknown {
  if (body.length === 0) throw apiError("invalid_body", { expected: "a JSON object" });
  checkJsonDepth(body, maxDepth);
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw apiError("invalid_json", { detail: (error as Error).message.replace(/^Unexpected/, "unexpected") });
  }
}
