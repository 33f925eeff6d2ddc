import { apiFetch, errorOf } from "./http";

/**
 * A streamed chat completion through the OpenAI-compatible API, as the signed-in user:
 * `POST /v1/chat/completions` with `stream: true`, read as server-sent events. A cold model's
 * 503 `model_not_ready` is waited out as its Retry-After says, then the request is sent again.
 */

export interface ChatMessage {
  role: "user" | "assistant" | "system";
  content: string;
}

/** What the model is doing while the request waits for it (from the 503 body). */
export interface NotReady {
  state: string;
  queuePosition: number | null;
  etaSeconds: number | null;
  retryAfter: number;
  message: string;
}

export interface StreamHandlers {
  /** Each piece of the answer as it arrives. */
  onDelta(piece: { content?: string; reasoning?: string }): void;
  /** The model is not live yet; the request is sent again after `retryAfter` seconds. */
  onNotReady(status: NotReady): void;
  /** The request was sent (again): waiting for the first token. */
  onSending(): void;
}

export class ChatError extends Error {}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });

/** Split an SSE byte stream into the `data:` payloads of its events. */
async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).replace(/^ /, ""))
        .join("\n");
      if (data) yield data;
      end = buffer.indexOf("\n\n");
    }
  }
}

interface Chunk {
  choices?: { delta?: { content?: string | null; reasoning_content?: string | null; reasoning?: string | null } }[];
  error?: { message?: string };
}

export async function streamChat(
  model: string,
  messages: ChatMessage[],
  handlers: StreamHandlers,
  signal: AbortSignal,
): Promise<void> {
  for (;;) {
    handlers.onSending();
    const res = await apiFetch("/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ model, messages, stream: true }),
      signal,
    });
    if (res.status === 503) {
      const { message, body } = await errorOf(res);
      if (body?.code !== "model_not_ready") throw new ChatError(message);
      const header = Number(res.headers.get("retry-after"));
      const retryAfter = Math.min(60, Math.max(1, Number(body.retry_after) || header || 5));
      handlers.onNotReady({
        state: typeof body.model_state === "string" ? body.model_state : "starting",
        queuePosition: typeof body.queue_position === "number" ? body.queue_position : null,
        etaSeconds: typeof body.eta_seconds === "number" ? body.eta_seconds : null,
        retryAfter,
        message,
      });
      await sleep(retryAfter * 1000, signal);
      continue;
    }
    if (!res.ok || !res.body) throw new ChatError((await errorOf(res)).message);
    for await (const data of sseData(res.body)) {
      if (data === "[DONE]") return;
      let chunk: Chunk;
      try {
        chunk = JSON.parse(data) as Chunk;
      } catch {
        continue; // not JSON: nothing to show
      }
      if (chunk.error) throw new ChatError(chunk.error.message ?? "the stream ended with an error");
      const delta = chunk.choices?.[0]?.delta;
      const reasoning = delta?.reasoning_content ?? delta?.reasoning ?? undefined;
      if (delta?.content || reasoning) {
        handlers.onDelta({
          ...(delta?.content ? { content: delta.content } : {}),
          ...(reasoning ? { reasoning } : {}),
        });
      }
    }
    return;
  }
}
