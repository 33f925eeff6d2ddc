import { ERROR_CATALOGUE, type ErrorCode, type ModelStatus } from "@switchyard/core";

/** Every error the SDK throws; `instanceof SwitchyardSDKError` catches them all. */
export class SwitchyardSDKError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Is this one of the catalogue's codes (a code this version of the SDK knows)? */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(ERROR_CATALOGUE, code);
}

interface ApiErrorInit {
  status: number;
  message: string;
  code: string | null;
  type: string | null;
  param: string | null;
  /** Seconds, from `Retry-After` (or the body's `retry_after`). */
  retryAfter: number | null;
  requestId: string | null;
  /** The whole `error` object, including extra fields such as `model_state`. */
  body: Record<string, unknown>;
}

/**
 * The server answered with an error in the OpenAI shape. `code` is one of core's catalogue
 * codes (see docs/errors.md); subclasses by status make `catch` blocks readable.
 */
export class APIError extends SwitchyardSDKError {
  readonly status: number;
  readonly code: ErrorCode | (string & {}) | null;
  readonly type: string | null;
  readonly param: string | null;
  readonly retryAfter: number | null;
  readonly requestId: string | null;
  readonly body: Record<string, unknown>;

  constructor(init: ApiErrorInit) {
    super(init.message);
    this.status = init.status;
    this.code = init.code;
    this.type = init.type;
    this.param = init.param;
    this.retryAfter = init.retryAfter;
    this.requestId = init.requestId;
    this.body = init.body;
  }
}

/** 400, 413, 415, 422: the request itself is wrong; `param` names the field when there is one. */
export class BadRequestError extends APIError {}
/** 401: no credentials, or the server refused them (`code`: invalid_token, token_expired, invalid_api_key, ...). */
export class AuthenticationError extends APIError {}
/** 403: known caller, no access (a group-restricted model, a key without the scope, admin only). */
export class PermissionDeniedError extends APIError {}
/** 404: unknown model, cluster, framework, key, batch or route. */
export class NotFoundError extends APIError {}
/** 409: a state conflict (e.g. a batch that already finished). */
export class ConflictError extends APIError {}
/** 429: a rate or quota limit; `retryAfter` says when to try again. */
export class RateLimitError extends APIError {}
/** 503 other than model_not_ready: a cluster in maintenance, a dependency down. */
export class ServiceUnavailableError extends APIError {}
/** 500, 502, 504: something failed on the server or the model server behind it. */
export class InternalServerError extends APIError {}

/** 503 `model_not_ready`: the model is queued or starting; retry after `retryAfter` seconds. */
export class ModelNotReadyError extends ServiceUnavailableError {
  /** What the model is doing: queued, starting (or offline). */
  get modelState(): ModelStatus | null {
    return (this.body.model_state as ModelStatus | undefined) ?? null;
  }
  get queuePosition(): number | null {
    return (this.body.queue_position as number | null | undefined) ?? null;
  }
  get etaSeconds(): number | null {
    return (this.body.eta_seconds as number | null | undefined) ?? null;
  }
}

/** The server could not be reached at all (refused, unknown host, timed out before answering). */
export class APIConnectionError extends SwitchyardSDKError {
  constructor(
    readonly baseURL: string,
    cause: unknown,
  ) {
    super(`Cannot reach the Switchyard server at ${baseURL}: ${describeNetworkError(cause)}.`, { cause });
  }
}

/** An `/auth/*` endpoint answered with an OAuth error (RFC 6749: `error`, `error_description`). */
export class OAuthError extends SwitchyardSDKError {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
  ) {
    super(description ? `${error}: ${description}` : error);
  }
}

/**
 * There is no usable login for this server: never logged in, logged out, the refresh token was
 * revoked, or the 7 days after the last interactive login have passed. Fix: `sy login`.
 */
export class LoginRequiredError extends SwitchyardSDKError {
  constructor(
    readonly server: string,
    readonly reason: "not_logged_in" | "session_ended",
    detail?: string,
  ) {
    // The server's own words often start with "login required"; it need not be said twice.
    const why = detail?.replace(/^login required:\s*/i, "") ?? "the session ended";
    const command = `sy login${server === DEFAULT_SERVER_HINT ? "" : ` --server ${server}`}`;
    super(
      reason === "not_logged_in"
        ? `Not logged in to ${server}. Run '${command}' (or set SWITCHYARD_API_KEY to an API key).`
        : `Login required for ${server}: ${why}${why.includes("sy login") ? "" : `. Run '${command}'`}.`,
    );
  }
}

/** The device login was approved as someone other than the identity stored for this server. */
export class IdentityMismatchError extends SwitchyardSDKError {
  constructor(
    readonly server: string,
    readonly stored: string,
    readonly approved: string,
  ) {
    super(
      `Identity mismatch: the login was approved as '${approved}', but this machine is logged in to ${server} as '${stored}'. ` +
        `Nothing was changed. To switch to '${approved}', run 'sy logout' and then 'sy login', or 'sy login --force'.`,
    );
  }
}

/** The token file cannot be read or written: its path, what is wrong, and how to fix it. */
export class TokenStoreError extends SwitchyardSDKError {
  constructor(
    readonly path: string,
    problem: string,
    fix: string,
  ) {
    super(`The token file ${path} ${problem}. ${fix}`);
  }
}

const DEFAULT_SERVER_HINT = "http://127.0.0.1:8080";

function describeNetworkError(error: unknown): string {
  const cause = (error as { cause?: unknown })?.cause ?? error;
  const code = (cause as { code?: string })?.code;
  const messages: Record<string, string> = {
    ECONNREFUSED: "connection refused (is it running? 'switchyard serve' starts one)",
    ENOTFOUND: "unknown host",
    EAI_AGAIN: "the host name could not be resolved",
    ETIMEDOUT: "timed out",
    ECONNRESET: "the connection was reset",
    EHOSTUNREACH: "host unreachable",
    UND_ERR_CONNECT_TIMEOUT: "timed out connecting",
  };
  if (code && messages[code]) return messages[code];
  // fetch refuses ports browsers block (1, 9, 25, 6000, ...): say so rather than "bad port".
  if ((cause as Error)?.message === "bad port") return "fetch refuses to connect to that port; use another one";
  if ((error as Error)?.name === "TimeoutError") return "timed out";
  return (cause as Error)?.message ?? String(cause);
}

function errorClassFor(status: number, code: string | null): typeof APIError {
  if (status === 503 && code === "model_not_ready") return ModelNotReadyError;
  if (status === 401) return AuthenticationError;
  if (status === 403) return PermissionDeniedError;
  if (status === 404) return NotFoundError;
  if (status === 409) return ConflictError;
  if (status === 429) return RateLimitError;
  if (status === 503) return ServiceUnavailableError;
  if (status >= 500) return InternalServerError;
  return BadRequestError;
}

function retryAfterOf(headers: Headers, error: Record<string, unknown>): number | null {
  const header = headers.get("retry-after");
  if (header !== null) {
    const seconds = Number(header);
    if (Number.isFinite(seconds)) return Math.max(0, seconds);
    const date = Date.parse(header);
    if (Number.isFinite(date)) return Math.max(0, Math.ceil((date - Date.now()) / 1000));
  }
  return typeof error.retry_after === "number" ? error.retry_after : null;
}

/** The typed error for a non-2xx answer of an OpenAI-shaped route. */
export function apiErrorFrom(status: number, headers: Headers, text: string): APIError {
  let error: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (parsed && typeof parsed.error === "object" && parsed.error !== null) {
      error = parsed.error as Record<string, unknown>;
    }
  } catch {
    // not JSON: a proxy's error page, for instance
  }
  const code = typeof error.code === "string" ? error.code : null;
  const message =
    typeof error.message === "string"
      ? error.message
      : `HTTP ${status}${text ? `: ${text.replace(/\s+/g, " ").slice(0, 200)}` : ""}`;
  const ErrorClass = errorClassFor(status, code);
  return new ErrorClass({
    status,
    message,
    code,
    type: typeof error.type === "string" ? error.type : null,
    param: typeof error.param === "string" ? error.param : null,
    retryAfter: retryAfterOf(headers, error),
    requestId: headers.get("x-request-id"),
    body: error,
  });
}
