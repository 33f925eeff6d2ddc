import { apiError, formatBytes } from "@switchyard/core";
import type { Request } from "express";

/** The whole body, refusing more than `limitBytes` (413). */
async function readBytes(req: Request, limitBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) throw apiError("payload_too_large", { limit: formatBytes(limitBytes) });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The whole body as text, refusing more than `limitBytes` (413). */
export async function readText(req: Request, limitBytes: number): Promise<string> {
  return (await readBytes(req, limitBytes)).toString("utf8");
}

export { formatBytes } from "@switchyard/core";

/** How deep a JSON body may nest arrays and objects unless a route says otherwise. */
export const MAX_JSON_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/**
 * Whether JSON text nests arrays and objects deeper than `max`, found by one pass over the bytes
 * (string contents skipped) before anything parses it: a deep value passes `JSON.parse` but
 * overflows the stack of whatever walks it later (re-serialising, validation, the database).
 */
export function jsonNestingExceeds(body: Uint8Array, max: number): boolean {
  if (body.length <= max) return false; // every level takes at least one byte
  let depth = 0;
  const length = body.length;
  for (let i = 0; i < length; i++) {
    const c = body[i];
    if (c === QUOTE) {
      // Short strings are stepped through here (cheaper than a native call each); a long one
      // (an image, say) is jumped with indexOf to the first quote not escaped by an odd run of
      // backslashes.
      let end = i + 1;
      const near = Math.min(length, end + 64);
      while (end < near && body[end] !== QUOTE) end += body[end] === BACKSLASH ? 2 : 1;
      if (end >= near) {
        for (end = Math.max(end, near) - 1; ; ) {
          end = body.indexOf(QUOTE, end + 1);
          if (end < 0) return false; // unterminated: the parser reports it
          let slashes = 0;
          while (body[end - 1 - slashes] === BACKSLASH) slashes++;
          if (slashes % 2 === 0) break;
        }
      }
      i = end;
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > max) return true;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
    }
  }
  return false;
}

/** 400 for a body nested deeper than `max` (see `jsonNestingExceeds`). */
export function checkJsonDepth(body: Uint8Array, max: number): void {
  if (jsonNestingExceeds(body, max)) {
    throw apiError("invalid_body", { expected: `JSON nested at most ${max} levels deep` });
  }
}

function parseJsonObject(text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw apiError("invalid_json", { detail: (error as Error).message });
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw apiError("invalid_body", { expected: "a JSON object" });
  }
  return parsed as Record<string, unknown>;
}

/** A small JSON object body (an empty body reads as `{}`). */
export async function readJsonObject(req: Request, limitBytes = 64 * 1024): Promise<Record<string, unknown>> {
  const bytes = await readBytes(req, limitBytes);
  const text = bytes.toString("utf8").trim();
  if (text === "") return {};
  checkJsonDepth(bytes, MAX_JSON_DEPTH);
  return parseJsonObject(text);
}

/**
 * Read a small form-encoded or JSON body (OAuth endpoints accept both) with a size cap.
 * Returns string values only; anything else is the client's error, reported as such.
 */
export async function readFormOrJson(req: Request, limitBytes = 64 * 1024): Promise<Record<string, string>> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  const text = await readText(req, limitBytes);
  if (text.length === 0) return {};
  if (type === "application/json") {
    const parsed = parseJsonObject(text);
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(parsed)) {
      if (typeof value === "string") out[key] = value;
      else if (typeof value === "number" || typeof value === "boolean") out[key] = String(value);
    }
    return out;
  }
  if (type === "application/x-www-form-urlencoded" || type === "") {
    return Object.fromEntries(new URLSearchParams(text));
  }
  throw apiError("unsupported_content_type", {
    contentType: type,
    expected: "application/x-www-form-urlencoded or application/json",
  });
}
