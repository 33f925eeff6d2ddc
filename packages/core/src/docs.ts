import { BATCH_LINE_ERROR_CODES, BATCH_LINE_ERRORS } from "./batch-line-errors";
import { ERROR_CATALOGUE, ERROR_CODES } from "./errors";

/** docs/errors.md, generated from the catalogues (a test keeps the committed file in sync). */
export function errorCatalogueMarkdown(): string {
  const rows = [...ERROR_CODES]
    .sort((a, b) => ERROR_CATALOGUE[a].status - ERROR_CATALOGUE[b].status || a.localeCompare(b))
    .map((code) => {
      const def = ERROR_CATALOGUE[code];
      const message = def.message.replace(/\|/g, "\\|");
      return `| ${def.status} | \`${code}\` | \`${def.type}\` | ${message} | ${def.description} |`;
    });
  const lineRows = BATCH_LINE_ERROR_CODES.map((code) => {
    const def = BATCH_LINE_ERRORS[code];
    return `| \`${code}\` | ${def.message.replace(/\|/g, "\\|")} | ${def.description} |`;
  });
  return [
    "# Errors",
    "",
    "<!-- Generated from packages/core/src/errors.ts and batch-line-errors.ts by `pnpm docs:generate`; do not edit by hand. -->",
    "",
    "Every error Switchyard returns has the OpenAI shape, so the `openai` SDKs raise their usual",
    "exceptions (`BadRequestError`, `AuthenticationError`, `RateLimitError`, ...):",
    "",
    "```json",
    '{"error": {"message": "...", "type": "invalid_request_error", "param": "messages[0].content", "code": "invalid_field"}}',
    "```",
    "",
    "`param` names the request field at fault (or is `null`). Some errors add fields: `retry_after`",
    "(seconds; also the `Retry-After` header) on 429 and 503, and `model_state`, `queue_position`",
    "and `eta_seconds` when a model is not live yet. 401s carry `WWW-Authenticate: Bearer`.",
    "A 500 (`internal_error`) is always a Switchyard bug, never the result of what a client sent.",
    "",
    "| status | code | type | message | meaning |",
    "| --- | --- | --- | --- | --- |",
    ...rows,
    "",
    "## Errors of batch lines",
    "",
    "A batch line that failed is written to the batch's errors file with `error: {code, message}`",
    "(and `response` when the model server answered); these are its codes:",
    "",
    "| code | message | meaning |",
    "| --- | --- | --- |",
    ...lineRows,
    "",
  ].join("\n");
}
