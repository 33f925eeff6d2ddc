import { z } from "zod";

/**
 * The one error catalogue. Every error a client can see is an entry here: the gateway, the
 * control plane, the docs and the OpenAPI document all read this table. Messages are
 * templates: `{name}` is filled from the params given when the error is raised.
 *
 * Over 400 lines on purpose: it is one table, and splitting it would scatter the codes a
 * reader compares side by side (status, type, wording).
 */

export type OpenAIErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "conflict_error"
  | "rate_limit_error"
  | "server_error"
  | "service_unavailable_error"
  | "timeout_error";

export interface ErrorDefinition {
  readonly status: number;
  readonly type: OpenAIErrorType;
  readonly message: string;
  /** What it means and what to do, for the generated docs. */
  readonly description: string;
  /** 401s carry `WWW-Authenticate`; `invalid_token` adds RFC 6750's error attribute. */
  readonly wwwAuthenticate?: "challenge" | "invalid_token";
}

export const ERROR_CATALOGUE = {
  // 400
  invalid_json: {
    status: 400,
    type: "invalid_request_error",
    message: "The request body is not valid JSON: {detail}.",
    description: "The body could not be parsed as JSON.",
  },
  invalid_body: {
    status: 400,
    type: "invalid_request_error",
    message: "The request body must be {expected}.",
    description: "The body parsed, but is not the kind of JSON value the route takes.",
  },
  missing_required_field: {
    status: 400,
    type: "invalid_request_error",
    message: "Missing required field '{param}'.",
    description: "A field the route requires is absent; `param` names it.",
  },
  invalid_field: {
    status: 400,
    type: "invalid_request_error",
    message: "Invalid value for '{param}': {detail}.",
    description: "A field has the wrong type or an out-of-range value; `param` names it.",
  },
  batch_line_too_long: {
    status: 400,
    type: "invalid_request_error",
    message: "Line {line} of the input file is longer than the limit of {limit} per line (batch.maxLineBytes).",
    description:
      "A batch input line is longer than `batch.maxLineBytes` (10 MB by default); the file is refused without reading that line whole. Split the request or shorten it.",
  },
  project_required: {
    status: 400,
    type: "invalid_request_error",
    message:
      "You are a member of several active projects ({projects}); name the one to charge with 'project' (sy batch submit --project NAME).",
    description: "A batch names no project and its creator has more than one active allocation to charge it to.",
  },
  unsupported_content_type: {
    status: 415,
    type: "invalid_request_error",
    message: "Unsupported Content-Type '{contentType}'; send {expected}.",
    description: "The body was sent with a media type the route does not read.",
  },
  // 401
  missing_credentials: {
    status: 401,
    type: "authentication_error",
    message:
      "No credentials were sent. Send 'Authorization: Bearer <access token or API key>'; 'sy token' prints a fresh access token.",
    description: "The request carried no bearer token or API key.",
    wwwAuthenticate: "challenge",
  },
  invalid_token: {
    status: 401,
    type: "authentication_error",
    message: "The access token is not valid: {reason}.",
    description: "Bad signature, wrong issuer or audience, unknown key, malformed or revoked token.",
    wwwAuthenticate: "invalid_token",
  },
  token_expired: {
    status: 401,
    type: "authentication_error",
    message:
      "The access token expired at {expiredAt}. Refresh it ('sy token' and the SDK do this by themselves) or log in again with 'sy login'.",
    description: "The token was valid but has expired; refresh it and retry.",
    wwwAuthenticate: "invalid_token",
  },
  invalid_api_key: {
    status: 401,
    type: "authentication_error",
    message: "The API key is not valid: {reason}.",
    description: "The API key is unknown, revoked or expired.",
    wwwAuthenticate: "invalid_token",
  },
  // 400 (a batch request's paths; the 403 for a path outside the allowed directories follows)
  invalid_path: {
    status: 400,
    type: "invalid_request_error",
    message: "{param} '{path}' {problem}.",
    description:
      "A path in a batch request is not absolute, contains `..` or a symbolic link, does not exist, is not a file (or folder), or cannot be read.",
  },
  // 403
  model_access_denied: {
    status: 403,
    type: "permission_error",
    message: "You do not have access to model '{model}'; it is limited to the groups: {groups}.",
    description: "The caller is authenticated but not in a group the model allows.",
  },
  cluster_access_denied: {
    status: 403,
    type: "permission_error",
    message: "You do not have access to cluster '{cluster}'; it is limited to the groups: {groups}.",
    description: "The caller is authenticated but not in a group the cluster allows.",
  },
  insufficient_scope: {
    status: 403,
    type: "permission_error",
    message: "This API key is not scoped for {scope}; create a key with that scope.",
    description: "An API key was used on a route outside its scopes (inference, batch, admin).",
  },
  path_not_allowed: {
    status: 403,
    type: "permission_error",
    message: "{param} '{path}' is outside the directories batches may use on cluster '{cluster}': {dirs}.",
    description:
      "A batch's input file or output folder must lie inside the cluster's allowed directories (`batch.allowedDirs`; in the embedded default `<data-dir>/files` and `SWITCHYARD_BATCH_DIRS`), as written: a path outside them is refused before anything is looked up, whether it exists or not. `..` and symlinks are refused. An input may also lie under the cluster's `batch.worldReadableRoots` (if everyone may read it); an output folder never.",
  },
  path_access_denied: {
    status: 403,
    type: "permission_error",
    message: "{param} '{path}' {problem}.",
    description:
      "A batch's input file or output folder is inside the allowed directories, but `batch.fileAccess` does not let this user use it: in `posix` mode the user's system account cannot read the file (or write in the folder); in `world` mode the file is not world-readable, or the folder is not the user's own folder. An input under a world-readable root (`batch.worldReadableRoots`) must be readable by everyone (the file o+r, every directory below the root o+x), in every mode.",
  },
  project_not_allowed: {
    status: 403,
    type: "permission_error",
    message:
      "You are not a member of project '{project}'. Projects you may charge: {projects}. Ask an administrator to add you (or your group) to it.",
    description: "A batch names a project its creator (and their groups) is not a member of.",
  },
  no_active_allocation: {
    status: 403,
    type: "permission_error",
    message: "You have no active allocation to charge this batch to: {detail}.",
    description:
      "Batches run only on an active allocation: a project you (or your group) belong to, switched on and within its validity window. The message says which project is missing, ended, not started or switched off, and what to ask an administrator for.",
  },
  admin_required: {
    status: 403,
    type: "permission_error",
    message: "This action needs the admin role.",
    description: "A control-plane action reserved for administrators.",
  },
  interactive_session_required: {
    status: 403,
    type: "permission_error",
    message: "{action} needs a signed-in session (password or single sign-on), not an API key.",
    description: "Approving a device login with an API key would turn a scoped key into a full token.",
  },
  // 404
  route_not_found: {
    status: 404,
    type: "invalid_request_error",
    message: "There is no route {method} {path}.",
    description: "The path does not exist on this server.",
  },
  model_not_found: {
    status: 404,
    type: "invalid_request_error",
    message: "The model '{model}' does not exist. GET /v1/models lists the available models.",
    description: "No model (or alias) with that id is in the catalog.",
  },
  model_not_on_cluster: {
    status: 404,
    type: "invalid_request_error",
    message: "The model '{model}' is not served on cluster '{cluster}'; it is served on: {clusters}.",
    description: "The model exists, but not on the cluster named in the path.",
  },
  cluster_not_found: {
    status: 404,
    type: "invalid_request_error",
    message: "There is no cluster '{cluster}'. Known clusters: {clusters}.",
    description: "The cluster in the path is not in the catalog.",
  },
  framework_not_found: {
    status: 404,
    type: "invalid_request_error",
    message: "Cluster '{cluster}' has no framework '{framework}'. Its frameworks: {frameworks}.",
    description: "The framework in the path is not offered by that cluster.",
  },
  batch_not_found: {
    status: 404,
    type: "invalid_request_error",
    message: "There is no batch '{batchId}'.",
    description: "No batch with that id is visible to the caller.",
  },
  file_not_found: {
    status: 404,
    type: "invalid_request_error",
    message: "There is no file '{fileId}'.",
    description: "No file with that id is visible to the caller.",
  },
  project_not_found: {
    status: 404,
    type: "not_found_error",
    message: "There is no project '{project}'. Projects you may charge: {projects}.",
    description: "A batch names a project that does not exist.",
  },
  resource_not_found: {
    status: 404,
    type: "invalid_request_error",
    message: "There is no {kind} '{id}'.",
    description: "A user, group, key or deployment named in the request does not exist.",
  },
  method_not_allowed: {
    status: 405,
    type: "invalid_request_error",
    message: "{method} is not allowed on {path}; allowed: {allowed}.",
    description: "The path exists but not for this HTTP method.",
  },
  batch_failed: {
    status: 400,
    type: "invalid_request_error",
    message: "Batch failed: {reason}",
    description:
      "Asking the reference API for the result of a failed batch: the answer says why it failed (and where what it answered before is).",
  },
  // 409
  batch_state_conflict: {
    status: 409,
    type: "conflict_error",
    message: "Batch '{batchId}' is {status}; it cannot be {action}.",
    description: "The batch is in a state where the requested action does not apply.",
  },
  batch_input_in_use: {
    status: 409,
    type: "conflict_error",
    message:
      "Input file {path} is already being processed by your batch '{batchId}' ({status}); wait for it to end or cancel it before submitting the file again.",
    description: "The reference API runs one active batch per input file and user.",
  },
  file_in_use: {
    status: 409,
    type: "conflict_error",
    message:
      "File '{fileId}' is the input of batch '{batchId}', which is {status}; delete it once the batch is done or cancelled.",
    description: "A file an unfinished batch still reads cannot be deleted.",
  },
  already_exists: {
    status: 409,
    type: "conflict_error",
    message: "The {kind} '{id}' already exists.",
    description: "Creating something whose name is taken.",
  },
  last_admin: {
    status: 409,
    type: "conflict_error",
    message: "'{username}' is the last admin; make another user an admin first.",
    description: "Taking the admin role from the only admin would lock everyone out of the control plane.",
  },
  // 413
  payload_too_large: {
    status: 413,
    type: "invalid_request_error",
    message: "The request body is larger than the limit of {limit}.",
    description: "The body exceeds the configured maximum (10 MB by default).",
  },
  storage_quota_exceeded: {
    status: 413,
    type: "invalid_request_error",
    message:
      "Your files take {used} of your {limit} of storage{needed}. Delete files you no longer need (DELETE /v1/files/<file id>) or let them expire, then upload again.",
    description:
      "An upload would take a user's files (uploads and kept batch outputs) past `batch.maxStorageBytesPerUser` (10 GB by default); it is refused before its body is stored.",
  },
  // 422
  capability_not_supported: {
    status: 422,
    type: "invalid_request_error",
    message: "Model '{model}' does not support {capability}. Models that do: {models}.",
    description:
      "The model cannot serve this kind of request (embeddings on a chat model, images to a text-only model, tools, batch).",
  },
  // 429
  rate_limit_requests: {
    status: 429,
    type: "rate_limit_error",
    message: "Rate limit reached for {scope}: {limit} requests per minute. Try again in {retryAfter} s.",
    description: "Too many requests in the current minute; honour `Retry-After`.",
  },
  rate_limit_tokens: {
    status: 429,
    type: "rate_limit_error",
    message: "Token limit reached for {scope}: {limit} tokens per minute. Try again in {retryAfter} s.",
    description: "Too many tokens in the current minute; honour `Retry-After`.",
  },
  too_many_concurrent_requests: {
    status: 429,
    type: "rate_limit_error",
    message:
      "You already have {limit} requests in flight, the most one user may have at once. Wait for one to finish, then retry.",
    description:
      "A user may have only so many inference requests running at once (`gateway.limits.user.concurrentRequests`); retry when one has finished.",
  },
  too_many_attempts: {
    status: 429,
    type: "rate_limit_error",
    message: "Too many failed sign-in attempts. Try again in {retryAfter} s.",
    description: "Too many sign-in attempts for a user from one address, or from one address over all users.",
  },
  too_many_event_streams: {
    status: 429,
    type: "rate_limit_error",
    message:
      "You already have {open} live event streams open here, the limit is {limit}. Close a dashboard tab or another stream, then reconnect.",
    description: "Each user may hold a limited number of control-plane event streams open at once.",
  },
  batch_limit_reached: {
    status: 429,
    type: "rate_limit_error",
    message:
      "You already have {active} active batch(es), the limit is {limit}: {batchIds}. Wait for it to finish or cancel it.",
    description: "Only a limited number of batches may be active per user.",
  },
  allocation_exhausted: {
    status: 429,
    type: "rate_limit_error",
    message:
      "Project '{project}' has used {spent} of its {budget} tokens{scope}; ask an administrator to raise the budget, or name another project with 'project'.",
    description:
      "The project a batch is charged to has spent its token budget (or its limit for the batch's model). Nothing was read or run; the budget does not refill by itself.",
  },
  // 5xx
  model_not_ready: {
    status: 503,
    type: "service_unavailable_error",
    message: "Model '{model}' is {state}{detail}. Retry in {retryAfter} s.",
    description:
      "The model is not live yet (queued or starting). The body says its state, queue position and ETA; retry after `Retry-After` seconds.",
  },
  cluster_unavailable: {
    status: 503,
    type: "service_unavailable_error",
    message: "Cluster '{cluster}' is not taking requests: {reason}.",
    description: "The cluster is in maintenance or not yet available.",
  },
  service_unavailable: {
    status: 503,
    type: "service_unavailable_error",
    message: "Switchyard cannot serve this request right now: {reason}.",
    description: "A dependency (database, scheduler) is down; retry later.",
  },
  model_server_rejected: {
    status: 400,
    type: "invalid_request_error",
    message: "The model server for '{model}' refused the request: {detail}.",
    description:
      "The model server answered with a 4xx (the same status is returned) that was not already in the OpenAI shape, e.g. a prompt longer than the context window.",
  },
  upstream_error: {
    status: 502,
    type: "server_error",
    message: "The model server for '{model}' failed: {detail}.",
    description: "The model server answered with a 5xx or broke the connection.",
  },
  upstream_timeout: {
    status: 504,
    type: "timeout_error",
    message: "The model server for '{model}' did not answer within {timeout}.",
    description: "The model server took longer than the configured timeout.",
  },
  internal_error: {
    status: 500,
    type: "server_error",
    message: "Internal error (request {requestId}); the details are in the server log.",
    description: "A bug in Switchyard. Never caused by what a client sent.",
  },
} as const satisfies Record<string, ErrorDefinition>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;
export const ERROR_CODES = Object.keys(ERROR_CATALOGUE) as ErrorCode[];

/** The `{name}` placeholders of a message template. */
export type Placeholders<S extends string> = S extends `${string}{${infer P}}${infer Rest}`
  ? P | Placeholders<Rest>
  : never;

/** The values a code's message template needs, checked at compile time. */
export type ErrorParams<C extends ErrorCode> = {
  [K in Placeholders<(typeof ERROR_CATALOGUE)[C]["message"]>]: string | number;
};

export interface ErrorOptions {
  /** The request field at fault, OpenAI's `param` (e.g. `messages[0].content`). */
  param?: string | null;
  /** Extra top-level fields in the error object (e.g. `model_state`, `retry_after`). */
  extra?: Record<string, unknown>;
  /** Seconds; sets the `Retry-After` header and `retry_after` in the body. */
  retryAfter?: number;
  headers?: Record<string, string>;
  cause?: unknown;
  /** Only for errors that relay a model server's own 4xx status. */
  status?: number;
}

export const ErrorBodySchema = z.looseObject({
  error: z.looseObject({
    message: z.string(),
    type: z.string(),
    param: z.string().nullable(),
    code: z.string().nullable(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

/** A message template with its placeholders filled (a missing value stays `{name}`). */
export function fillTemplate(template: string, params: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => String(params[name] ?? `{${name}}`));
}

/** A typed error from the catalogue. Handlers throw these; one middleware renders them. */
export class SwitchyardError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly type: OpenAIErrorType;
  readonly param: string | null;
  readonly extra: Record<string, unknown>;
  readonly retryAfter: number | undefined;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, params: Record<string, string | number>, options: ErrorOptions = {}) {
    const def: ErrorDefinition = ERROR_CATALOGUE[code];
    super(fillTemplate(def.message, params), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SwitchyardError";
    this.code = code;
    this.status = options.status ?? def.status;
    this.type = def.type;
    this.param = options.param ?? (typeof params.param === "string" ? params.param : null);
    this.extra = options.extra ?? {};
    this.retryAfter = options.retryAfter;
    this.headers = options.headers ?? {};
  }
}

/** Build a catalogue error with its params type-checked against the message template. */
export function apiError<C extends ErrorCode>(
  code: C,
  params: ErrorParams<C>,
  options?: ErrorOptions,
): SwitchyardError {
  return new SwitchyardError(code, params as Record<string, string | number>, options);
}

export interface RenderedError {
  status: number;
  headers: Record<string, string>;
  body: ErrorBody;
}

/** The OpenAI-shaped body and headers for an error. Nothing else writes error JSON. */
export function renderError(error: SwitchyardError): RenderedError {
  const def: ErrorDefinition = ERROR_CATALOGUE[error.code];
  const headers: Record<string, string> = { ...error.headers };
  const extra: Record<string, unknown> = { ...error.extra };
  if (error.retryAfter !== undefined) {
    const seconds = Math.max(1, Math.ceil(error.retryAfter));
    headers["retry-after"] = String(seconds);
    extra.retry_after = seconds;
  }
  if (def.wwwAuthenticate === "challenge") {
    headers["www-authenticate"] = 'Bearer realm="switchyard"';
  } else if (def.wwwAuthenticate === "invalid_token") {
    headers["www-authenticate"] = `Bearer realm="switchyard", error="invalid_token", error_description="${error.code}"`;
  }
  return {
    status: error.status,
    headers,
    body: {
      error: { message: error.message, type: error.type, param: error.param, code: error.code, ...extra },
    },
  };
}

/** Anything thrown that is not a SwitchyardError is a bug: it becomes `internal_error`. */
export function asSwitchyardError(error: unknown, requestId = "unknown"): SwitchyardError {
  if (error instanceof SwitchyardError) return error;
  return new SwitchyardError("internal_error", { requestId }, { cause: error });
}
