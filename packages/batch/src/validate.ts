import { stat } from "node:fs/promises";
import {
  BATCH_ENDPOINTS,
  type BatchEndpoint,
  type BatchError,
  BatchRequestLineSchema,
  errorFromZod,
  formatBytes,
} from "@switchyard/core";
import { scanRequestLines } from "./lines";

export interface ValidationOptions {
  /** The endpoint every line must call; unset: the first line's, which must be one batches allow. */
  endpoint?: BatchEndpoint;
  /** The names (id and aliases) a line's `body.model` may use. */
  modelNames: ReadonlySet<string>;
  /** Shown in "model must be ..." messages. */
  model: string;
  /**
   * The model a line without `body.model` takes (the reference API's create request names the
   * batch's model); unset, such a line is refused as OpenAI's API refuses it.
   */
  defaultModel?: string | undefined;
  maxLines: number;
  maxBytes: number;
  /** The longest line (`batch.maxLineBytes`); a longer one is reported, never read whole. */
  maxLineBytes: number;
}

export interface ValidationResult {
  ok: boolean;
  /** Request lines seen (all of them, even past the limit). */
  lines: number;
  endpoint: BatchEndpoint | null;
  /** The first `MAX_REPORTED` problems, in file order. */
  errors: BatchError[];
  /** Every problem found, including those not reported. */
  errorCount: number;
}

/** How many problems a failed batch lists (its `errors`); the count says if there were more. */
export const MAX_REPORTED = 100;

/**
 * What is wrong with a line that is not JSON, without any of its content: V8's messages quote
 * the text around the fault ("Unexpected token 'x', \"...\" is not valid JSON"), and the file
 * may not be the caller's to read. Only the position is kept.
 */
export function jsonProblem(error: unknown): string {
  const position = /at position (\d+)/.exec(error instanceof Error ? error.message : "");
  if (/Unexpected end of JSON input/.test(error instanceof Error ? error.message : "")) {
    return "Not valid JSON: the line ends before the JSON value does.";
  }
  return position
    ? `Not valid JSON: unexpected character at position ${position[1]}.`
    : "Not valid JSON: the line is not a JSON value.";
}

/** Field names the schema knows are safe to show; a name the file made up is not repeated. */
const SAFE_PARAM = /^[A-Za-z_][A-Za-z0-9_]{0,63}(?:(?:\.[A-Za-z_][A-Za-z0-9_]{0,63})|\[\d{1,9}\])*$/;
function safeParam(param: string | null): string | null {
  return param === null || SAFE_PARAM.test(param) ? param : "body";
}

/**
 * The first pass over a batch file: every line must be a JSON object with a unique
 * `custom_id`, `method: "POST"`, the batch's endpoint as `url`, and a `body` that passes that
 * endpoint's schema and names the batch's model. Streamed; only the custom ids are kept.
 */
export async function validateBatchFile(file: string, options: ValidationOptions): Promise<ValidationResult> {
  const errors: BatchError[] = [];
  let errorCount = 0;
  const report = (error: BatchError) => {
    errorCount++;
    if (errors.length < MAX_REPORTED) errors.push(error);
  };
  const size = (await stat(file)).size;
  if (size > options.maxBytes) {
    report({
      code: "file_too_large",
      message: `The file is ${formatBytes(size)}; the limit is ${formatBytes(options.maxBytes)}.`,
      param: null,
      line: null,
    });
    return { ok: false, lines: 0, endpoint: options.endpoint ?? null, errors, errorCount };
  }
  let endpoint = options.endpoint ?? null;
  const ids = new Map<string, number>();
  let lines = 0;
  for await (const item of scanRequestLines(file, { maxLineBytes: options.maxLineBytes })) {
    lines++;
    if (lines > options.maxLines) continue; // keep counting, to say how many there are
    const { line } = item;
    if ("tooLong" in item) {
      report({
        code: "line_too_long",
        message: `The line is longer than the limit of ${formatBytes(options.maxLineBytes)} per line (batch.maxLineBytes).`,
        param: null,
        line,
      });
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(item.text);
    } catch (error) {
      report({ code: "invalid_json_line", message: jsonProblem(error), param: null, line });
      continue;
    }
    const parsed = BatchRequestLineSchema.safeParse(value);
    if (!parsed.success) {
      const problem = errorFromZod(parsed.error, value);
      const param = safeParam(problem.param);
      report({
        code: "invalid_request_line",
        message: param === problem.param ? problem.message : "The line has a field batches do not accept.",
        param,
        line,
      });
      continue;
    }
    const request = parsed.data;
    const seen = ids.get(request.custom_id);
    if (seen !== undefined) {
      report({
        code: "duplicate_custom_id",
        message: `The custom_id is already used on line ${seen}.`,
        param: "custom_id",
        line,
      });
    } else {
      ids.set(request.custom_id, line);
    }
    if (endpoint === null) {
      if (request.url in BATCH_ENDPOINTS) {
        endpoint = request.url as BatchEndpoint;
      } else {
        report({
          code: "invalid_url",
          message: `The url is not an endpoint batches can call: ${Object.keys(BATCH_ENDPOINTS).join(", ")}.`,
          param: "url",
          line,
        });
        continue;
      }
    } else if (request.url !== endpoint) {
      report({
        code: "invalid_url",
        message: `The url differs from the batch's endpoint '${endpoint}'; every line must call it.`,
        param: "url",
        line,
      });
      continue;
    }
    // The run sends the model server's own name either way, so the default only has to pass here.
    const named =
      request.body.model === undefined && options.defaultModel
        ? { ...request.body, model: options.defaultModel }
        : request.body;
    const body = BATCH_ENDPOINTS[endpoint].safeParse(named);
    if (!body.success) {
      const problem = errorFromZod(body.error, named);
      const param = safeParam(problem.param ? `body.${problem.param}` : "body");
      report({
        code: "invalid_body",
        message:
          param === "body" && problem.param ? "The body has a field this endpoint does not accept." : problem.message,
        param,
        line,
      });
      continue;
    }
    const model = named.model;
    if (typeof model !== "string" || !options.modelNames.has(model)) {
      report({
        code: "model_mismatch",
        message: options.model
          ? `body.model is not this batch's model; every line of this batch must use '${options.model}' (or one of its aliases).`
          : "body.model is not a model this batch can use; the batch's model comes from the file's lines, and none of its first lines names one.",
        param: "body.model",
        line,
      });
    }
  }
  if (lines > options.maxLines) {
    report({
      code: "too_many_lines",
      message: `The file has ${lines.toLocaleString("en-US")} requests; the limit is ${options.maxLines.toLocaleString("en-US")}.`,
      param: null,
      line: options.maxLines + 1,
    });
  }
  if (lines === 0) report({ code: "empty_file", message: "The file has no requests.", param: null, line: null });
  return { ok: errorCount === 0, lines, endpoint, errors, errorCount };
}
