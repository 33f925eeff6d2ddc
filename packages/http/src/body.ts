import { formatBytes, sy } from "@switchyard/core";
import type { Request } from "express";

/** The whole body as text, refusing more than `limitBytes` (413). */
export async function readText(req: Request, limitBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) throw sy("payload_too_large", { limit: formatBytes(limitBytes) });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export { formatBytes } from "@switchyard/core";

function parseJsonObject(text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw sy("invalid_json", { detail: (error as Error).message });
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw sy("invalid_body", { expected: "a JSON object" });
  }
  return parsed as Record<string, unknown>;
}

/** A small JSON object body (an empty body reads as `{}`). */
export async function readJsonObject(req: Request, limitBytes = 64 * 1024): Promise<Record<string, unknown>> {
  const text = (await readText(req, limitBytes)).trim();
  return text === "" ? {} : parseJsonObject(text);
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
  throw sy("unsupported_content_type", {
    contentType: type,
    expected: "application/x-www-form-urlencoded or application/json",
  });
}
