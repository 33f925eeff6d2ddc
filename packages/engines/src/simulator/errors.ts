/**
 * Errors as a real model server sends them. The simulator imitates vLLM, not Switchyard: its
 * bodies are vLLM's `{"error":{"message","type","param","code"}}` with the HTTP status as `code`
 * (the gateway translates them), and Anthropic's shape on /v1/messages, as vLLM does there.
 */

const OPENAI_TYPES: Record<number, string> = {
  400: "BadRequestError",
  401: "AuthenticationError",
  403: "PermissionDeniedError",
  404: "NotFoundError",
  405: "MethodNotAllowedError",
  408: "RequestTimeoutError",
  409: "ConflictError",
  413: "RequestEntityTooLargeError",
  422: "UnprocessableEntityError",
  429: "RateLimitError",
  500: "InternalServerError",
  502: "BadGatewayError",
  503: "ServiceUnavailableError",
  504: "GatewayTimeoutError",
};

const ANTHROPIC_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  503: "overloaded_error",
  529: "overloaded_error",
};

export class SimulatorHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "SimulatorHttpError";
  }
}

export function openAIErrorType(status: number): string {
  return OPENAI_TYPES[status] ?? (status >= 500 ? "InternalServerError" : "BadRequestError");
}

/** vLLM's error body. */
export function openAIErrorBody(error: SimulatorHttpError): string {
  return JSON.stringify({
    error: { message: error.message, type: openAIErrorType(error.status), param: error.param, code: error.status },
  });
}

/** Anthropic's error body, for /v1/messages. */
export function anthropicErrorBody(error: SimulatorHttpError): string {
  const type = ANTHROPIC_TYPES[error.status] ?? (error.status >= 500 ? "api_error" : "invalid_request_error");
  return JSON.stringify({ type: "error", error: { type, message: error.message } });
}

export const badRequest = (message: string, param: string | null = null) => new SimulatorHttpError(400, message, param);
