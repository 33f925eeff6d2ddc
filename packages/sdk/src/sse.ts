import { ERROR_CATALOGUE } from "@switchyard/core";
import { createParser } from "eventsource-parser";
import { apiErrorFrom, isErrorCode } from "./errors";

/**
 * The `data:` payloads of a server-sent event stream, parsed as JSON, until `[DONE]`. An event
 * carrying `{"error": ...}` (the gateway's way to end a stream that failed midway) is thrown as
 * the typed error. eventsource-parser does the framing (lines split across chunks, CRLF, comments
 * and keep-alives); an event with empty data is skipped, and one cut off by the end of the stream
 * is dropped, as the spec says.
 */
export async function* jsonEvents<T>(body: ReadableStream<Uint8Array>, headers: Headers): AsyncGenerator<T> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  // The parser calls back synchronously inside feed(); the events of one chunk are queued and
  // handled here, so an error (bad JSON, an error event) is thrown by the generator itself.
  let pending: string[] = [];
  const parser = createParser({ onEvent: (event) => pending.push(event.data) });
  try {
    for (;;) {
      const { value, done } = await reader.read();
      parser.feed(done ? decoder.decode() : decoder.decode(value, { stream: true }));
      const events = pending;
      pending = [];
      for (const data of events) {
        if (data === "") continue;
        if (data === "[DONE]") return;
        const parsed = JSON.parse(data) as T & { error?: { code?: unknown } };
        if (parsed && typeof parsed === "object" && parsed.error && typeof parsed.error === "object") {
          const code = parsed.error.code;
          const status = isErrorCode(code) ? ERROR_CATALOGUE[code].status : 500;
          throw apiErrorFrom(status, headers, data);
        }
        yield parsed as T;
      }
      if (done) return;
    }
  } finally {
    // Stopping early (break, an error, an abort) releases the connection.
    await reader.cancel().catch(() => {});
  }
}
