import { stat } from "node:fs/promises";
import {
  BATCH_ENDPOINTS,
  type BatchEndpoint,
  type BatchError,
  BatchRequestLineSchema,
  errorFromZod,
  formatBytes,
} from "@switchyard/core";
import { readRequestLines } from "./lines";

export interface ValidationOptions {
  /** The endpoint every line must call; unset: the first line's, which must be one batches allow. */
  endpoint?: BatchEndpoint;
  /** The names (id and aliases) a line's `body.model` may use. */
  modelNames: ReadonlySet<string>;
  /** Shown in "model must be ..." messages. */
  model: string;
  maxLines: number;
  maxBytes: number;
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
  for await (const { line, text } of readRequestLines(file)) {
    lines++;
    if (lines > options.maxLines) continue; // keep counting, to say how many there are
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      report({ code: "invalid_json_line", message: `Not valid JSON: ${(error as Error).message}.`, param: null, line });
      continue;
    }
    const parsed = BatchRequestLineSchema.safeParse(value);
    if (!parsed.success) {
      const problem = errorFromZod(parsed.error, value);
      report({ code: "invalid_request_line", message: problem.message, param: problem.param, line });
      continue;
    }
    const request = parsed.data;
    const seen = ids.get(request.custom_id);
    if (seen !== undefined) {
      report({
        code: "duplicate_custom_id",
        message: `custom_id '${request.custom_id}' is already used on line ${seen}.`,
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
          message: `url '${request.url}' is not an endpoint batches can call: ${Object.keys(BATCH_ENDPOINTS).join(", ")}.`,
          param: "url",
          line,
        });
        continue;
      }
    } else if (request.url !== endpoint) {
      report({
        code: "invalid_url",
        message: `url '${request.url}' differs from the batch's endpoint '${endpoint}'; every line must call it.`,
        param: "url",
        line,
      });
      continue;
    }
    const body = BATCH_ENDPOINTS[endpoint].safeParse(request.body);
    if (!body.success) {
      const problem = errorFromZod(body.error, request.body);
      report({
        code: "invalid_body",
        message: problem.message,
        param: problem.param ? `body.${problem.param}` : "body",
        line,
      });
      continue;
    }
    const model = request.body.model;
    if (typeof model !== "string" || !options.modelNames.has(model)) {
      report({
        code: "model_mismatch",
        message: options.model
          ? `body.model is ${JSON.stringify(model)}; every line of this batch must use '${options.model}'.`
          : `body.model is ${JSON.stringify(model)}; the batch's model comes from the file's lines, and none of its first lines names one.`,
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
