/**
 * @switchyard/upstream: the one client for talking to model servers, used by the gateway's
 * request path and the batch worker alike.
 *
 * - `Upstreams` (pools.ts): an undici `Pool` per model server (base URL), closed after it has
 *   been idle for a while; the clock and the pruning interval are options so tests drive them.
 * - `Exchange` / `BufferedExchange` (exchange.ts): one request through undici's `dispatch` with
 *   a handler object and nothing else per request (no AbortController, no response stream).
 *   `BufferedExchange` collects status, headers and body; the gateway's streaming relay
 *   extends `Exchange`.
 * - `classifyFailure` (failure.ts): an error or an answer as `timeout`, `unreachable`,
 *   `transient` or `rejected`, with `retryAfterMs` from `Retry-After`; `retryAfterMs`;
 *   `upstreamErrorOf` / `parseUpstreamError` (the message of an error body).
 * - `RetryPolicy`, `mayRetry`, `retryDelay` (retry.ts): one retry policy with exponential
 *   backoff and jitter that honours `Retry-After`. Both callers run their own loop with it,
 *   because each does its own work between attempts (the gateway takes another replica; a
 *   batch line waits for its model and stops when the batch is interrupted).
 * - `modelServerHeaders` (headers.ts): request headers with the model server's own key.
 */
export { type AnswerHeaders, BufferedExchange, Exchange, type UpstreamAnswer } from "./exchange";
export {
  classifyFailure,
  type Failure,
  type FailureKind,
  parseUpstreamError,
  retryAfterMs,
  type UpstreamErrorBody,
  upstreamErrorOf,
} from "./failure";
export { modelServerHeaders } from "./headers";
export { Upstreams, type UpstreamsOptions } from "./pools";
export { mayRetry, type RetryPolicy, retryDelay } from "./retry";
