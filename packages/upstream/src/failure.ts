import type { AnswerHeaders } from "./exchange";

/**
 * What went wrong with a request to a model server, in the terms a caller decides on:
 * - `timeout`: the server took the request and did not answer (headers or body) in time;
 * - `unreachable`: no connection, or it broke: worth another replica at once;
 * - `transient`: the server said "not now" (408, 425, 429, 500, 502, 503, 504) or the exchange
 *   failed some other way: worth trying again later;
 * - `rejected`: the server refused the request itself (any other 4xx or 5xx): trying again
 *   gets the same answer.
 */
export type FailureKind = "timeout" | "unreachable" | "transient" | "rejected";

export interface Failure {
  kind: FailureKind;
  /** The answer's status, when there was one. */
  status?: number | undefined;
  /** How long the server asked to wait (`Retry-After`, at most a minute). */
  retryAfterMs?: number | undefined;
}

const TIMEOUT: Failure = Object.freeze({ kind: "timeout" });
const UNREACHABLE: Failure = Object.freeze({ kind: "unreachable" });
const TRANSIENT: Failure = Object.freeze({ kind: "transient" });

/** undici's timeouts once the request was sent. */
const TIMEOUT_CODES = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"]);

/**
 * Errors of a connection that could not be made or broke. A connect timeout is one of them, not
 * a `timeout`: nothing reached the server, so another replica may be tried at once, and the
 * request's own timeout (which `timeout` answers name) did not run out.
 */
const UNREACHABLE_CODES = new Set([
  "UND_ERR_CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
]);

/** Statuses a model server uses to say "not now". */
const TRANSIENT_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);

const MAX_RETRY_AFTER_MS = 60_000;

/** A `Retry-After` value (seconds, or an HTTP date) in ms from `now`, between 0 and a minute. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, seconds * 1000));
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.min(MAX_RETRY_AFTER_MS, Math.max(0, date - now));
}

/** An answer (status and headers) rather than a thrown error. */
function isAnswer(value: unknown): value is { status: number; headers?: AnswerHeaders } {
  return (
    typeof value === "object" &&
    value !== null &&
    !(value instanceof Error) &&
    typeof (value as { status?: unknown }).status === "number"
  );
}

/**
 * The one classification of what went wrong: an error `dispatch` failed with, or an answer.
 * An answer below 400 is not a failure (undefined).
 */
export function classifyFailure(answer: { status: number; headers?: AnswerHeaders }): Failure | undefined;
export function classifyFailure(error: unknown): Failure;
export function classifyFailure(value: unknown): Failure | undefined {
  if (isAnswer(value)) {
    const { status } = value;
    if (status < 400) return undefined;
    if (!TRANSIENT_STATUSES.has(status)) return { kind: "rejected", status };
    return { kind: "transient", status, retryAfterMs: retryAfterMs(value.headers?.["retry-after"]) };
  }
  const code = (value as { code?: unknown } | null)?.code;
  if (typeof code === "string") {
    if (TIMEOUT_CODES.has(code)) return TIMEOUT;
    if (UNREACHABLE_CODES.has(code)) return UNREACHABLE;
  }
  return TRANSIENT;
}

/** What a model server's error body says, and whether it is OpenAI's shape (`{ error: { message } }`). */
export interface UpstreamErrorBody {
  message: string;
  openAiShaped: boolean;
}

/**
 * The message of an error answer, parsed: OpenAI's `{ error: { message } }`, or a bare
 * `{ message }` (some servers send that); undefined for anything else.
 */
export function upstreamErrorOf(body: unknown): UpstreamErrorBody | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const error = (body as { error?: unknown }).error;
  if (typeof error === "object" && error !== null) {
    const message = (error as { message?: unknown }).message;
    if (typeof message === "string") return { message, openAiShaped: true };
  }
  const message = (body as { message?: unknown }).message;
  return typeof message === "string" ? { message, openAiShaped: false } : undefined;
}

/** `upstreamErrorOf` on the answer's text (undefined when it is not JSON). */
export function parseUpstreamError(text: string): UpstreamErrorBody | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  return upstreamErrorOf(body);
}
