import { fillTemplate, type Placeholders } from "./errors";

/**
 * The errors a batch writes into its errors file, one per failed line (`error.code` and
 * `error.message` of OpenAI's batch output line). They are not HTTP errors (the batch itself
 * answered 200 when it was created), so they live beside the catalogue, not in it; the codes
 * are a contract users match on, like the catalogue's. Messages are templates, as there.
 */
export const BATCH_LINE_ERRORS = {
  model_server_rejected: {
    message: "{detail}",
    description:
      "The model server answered 4xx (too long a prompt, say); not retried. The message is the server's own (or names its status), and `response` holds its answer.",
  },
  invalid_upstream_response: {
    message: "The model server's answer is not a JSON object.",
    description: "The model server answered 200 with a body that is not a JSON object; not retried.",
  },
  upstream_error: {
    message: "The model server answered {status} {attempts} times.",
    description: "A 5xx (or 408, 425) on every attempt (1 + `batch.retries`, with backoff).",
  },
  rate_limited: {
    message: "The model server answered {status} {attempts} times.",
    description: "A 429 on every attempt (1 + `batch.retries`, with backoff).",
  },
  upstream_timeout: {
    message: "No answer from the model server within {seconds} s.",
    description: "No answer within `batch.requestTimeout` on the last attempt.",
  },
  upstream_unreachable: {
    message: "The model server could not be reached: {detail}.",
    description:
      "No connection to the model server on the last attempt (a connection that could not be made in time counts here: the request never reached the server).",
  },
  batch_expired: {
    message: "The batch expired before this request was completed.",
    description: "The batch passed its completion window before this line was answered (`response` is null).",
  },
  internal_error: {
    message: "{detail}",
    description: "A bug in Switchyard while this line ran; the details are in the server log.",
  },
} as const satisfies Record<string, { message: string; description: string }>;

export type BatchLineErrorCode = keyof typeof BATCH_LINE_ERRORS;
export const BATCH_LINE_ERROR_CODES = Object.keys(BATCH_LINE_ERRORS) as BatchLineErrorCode[];

/** The `error` of a failed line in a batch's errors file. */
export interface BatchLineError {
  code: BatchLineErrorCode;
  message: string;
}

/** A line's error with its message filled, the params checked against the template at compile time. */
export function batchLineError<C extends BatchLineErrorCode>(
  code: C,
  params: { [K in Placeholders<(typeof BATCH_LINE_ERRORS)[C]["message"]>]: string | number },
): BatchLineError {
  return { code, message: fillTemplate(BATCH_LINE_ERRORS[code].message, params as Record<string, string | number>) };
}
