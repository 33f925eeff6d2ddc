import type { ServerResponse } from "node:http";
import { renderError, type SwitchyardError } from "@switchyard/core";

/** Every response names the engine, as llama-server's logs and /v1/models do. */
export const ENGINE_HEADER = { "x-switchyard-engine": "llama.cpp" } as const;

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...ENGINE_HEADER,
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, error: SwitchyardError): void {
  const rendered = renderError(error);
  sendJson(res, rendered.status, rendered.body, rendered.headers);
}

/**
 * A server-sent-events response that respects backpressure: `send` resolves once the socket has
 * taken the bytes, so a slow client slows its own generation instead of filling memory.
 */
export class EventStream {
  private started = false;

  constructor(private readonly res: ServerResponse) {}

  start(): void {
    if (this.started) return;
    this.started = true;
    this.res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      "x-accel-buffering": "no",
      ...ENGINE_HEADER,
    });
  }

  async send(data: unknown): Promise<void> {
    this.start();
    if (this.res.destroyed) return;
    if (!this.res.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.res.off("drain", done);
          this.res.off("close", done);
          resolve();
        };
        this.res.once("drain", done);
        this.res.once("close", done);
      });
    }
  }

  end(): void {
    this.start();
    if (!this.res.destroyed) this.res.end("data: [DONE]\n\n");
  }
}
