import { ERROR_CATALOGUE } from "@switchyard/core";
import { apiErrorFrom, isErrorCode } from "./errors";

/**
 * The `data:` payloads of a server-sent event stream, parsed as JSON, until `[DONE]`. An event
 * carrying `{"error": ...}` (the gateway's way to end a stream that failed midway) is thrown as
 * the typed error.
 */
export async function* jsonEvents<T>(body: ReadableStream<Uint8Array>, headers: Headers): AsyncGenerator<T> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      for (;;) {
        const end = /\r?\n\r?\n/.exec(buffer);
        if (!end) break;
        const event = buffer.slice(0, end.index);
        buffer = buffer.slice(end.index + end[0].length);
        const data = event
          .split(/\r?\n/)
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).replace(/^ /, ""))
          .join("\n");
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
