import { setTimeout as sleep } from "node:timers/promises";
import { type BatchLineError, batchLineError } from "@switchyard/core";
import type { Scheduler } from "@switchyard/scheduler";
import { type Dispatcher, errors as undiciErrors } from "undici";
import type { AdaptiveConcurrency } from "../concurrency";
import type { Finished, LineFormat, LineResponse } from "./output-lines";
import type { Progress } from "./progress";
import type { RunResources } from "./resources";

/**
 * One batch line's call to a model server: the undici handler, the replica (waiting for a
 * cold model), retries with backoff, and how each failure is classified into the line's error
 * code. All of the model-server talk of a batch is in this file.
 */

/** Statuses a model server uses to say "not now": retried with backoff. */
const TRANSIENT = new Set([408, 425, 429, 500, 502, 503, 504]);

export interface CallResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/**
 * One request to a model server through undici's dispatch API: a handler object per request,
 * no AbortController, no response stream (the batch benchmark showed both in the profile).
 * `abort()` stops it wherever it is.
 */
export class UpstreamCall implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private aborted: Error | undefined;
  private status = 0;
  private headers: Record<string, string | string[] | undefined> = {};
  private readonly chunks: Buffer[] = [];
  private resolve: (result: CallResult) => void = () => {};
  private reject: (error: Error) => void = () => {};
  readonly done = new Promise<CallResult>((resolve, reject) => {
    this.resolve = resolve;
    this.reject = reject;
  });

  abort(reason: Error): void {
    this.aborted = reason;
    this.controller?.abort(reason);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.aborted) controller.abort(this.aborted);
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    this.status = statusCode;
    this.headers = headers;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    const body = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
    this.resolve({ status: this.status, headers: this.headers, body });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.reject(error);
  }
}

/** A line whose request runs now, with the call in progress (if one is) to abort on interrupt. */
export interface InFlight {
  call: UpstreamCall | undefined;
}

/** One input line's request. */
export interface LineRequest {
  custom_id: string;
  body: Record<string, unknown>;
}

export function tokensOf(body: unknown): { prompt: number; completion: number } {
  const usage = (body as { usage?: Record<string, unknown> } | null)?.usage;
  if (!usage || typeof usage !== "object") return { prompt: 0, completion: 0 };
  const prompt = Number(usage.prompt_tokens ?? usage.input_tokens ?? 0) || 0;
  const completion = Number(usage.completion_tokens ?? usage.output_tokens ?? 0) || 0;
  return { prompt, completion };
}

export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.min(60_000, Math.max(0, seconds * 1000));
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.min(60_000, Math.max(0, date - now));
}

function isTimeout(error: unknown): boolean {
  return (
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    error instanceof undiciErrors.ConnectTimeoutError
  );
}

/** Why an attempt failed: the line's error, and the server's answer when it gave one. */
type Failure = BatchLineError & { response: LineResponse | null };

/**
 * Sends the lines of one run: each with up to `batch.retries` retries, to a replica from the
 * scheduler, feeding the adaptive concurrency with every answer's latency or pushback.
 */
export class LineRequests {
  private waiting: Promise<void> | undefined;
  private readonly counters: { completed: { inc(): void }; failed: { inc(): void }; retried: { inc(): void } };

  constructor(
    private readonly res: RunResources,
    private readonly parts: {
      /** The model name the server knows the model by. */
      upstreamName: string;
      limiter: AdaptiveConcurrency;
      format: LineFormat;
      progress: Progress;
    },
  ) {
    const { metrics } = res.deps;
    const model = res.batch.model;
    this.counters = {
      completed: metrics.requests.labels(model, "completed"),
      failed: metrics.requests.labels(model, "failed"),
      retried: metrics.retries.labels(model),
    };
  }

  /** One request with retries; undefined when the batch was interrupted before it finished. */
  async send(index: number, request: LineRequest, flight: InFlight): Promise<Finished | undefined> {
    const { res } = this;
    const { settings } = res.deps;
    const { upstreamName, limiter, format } = this.parts;
    const body = request.body.model === upstreamName ? request.body : { ...request.body, model: upstreamName };
    const payload = JSON.stringify(body);
    const ourId = `${res.batch.id}-${index}`;
    let last: Failure = { code: "upstream_error", message: "no attempt was made", response: null };
    let retryAfter: number | undefined;
    for (let attempt = 0; attempt <= settings.retries; attempt++) {
      if (res.interrupts.reason) return undefined;
      if (attempt > 0) {
        this.counters.retried.inc();
        const backoff = Math.min(30_000, 500 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
        try {
          await sleep(Math.max(backoff, retryAfter ?? 0), undefined, { signal: res.interrupts.signal });
        } catch {
          return undefined;
        }
      }
      const replica = await this.replica();
      if (!replica) return undefined;
      const started = performance.now();
      const call = new UpstreamCall();
      flight.call = call;
      let answer: CallResult;
      try {
        res.deps.pool(replica.baseUrl).dispatch(
          {
            path: res.batch.endpoint,
            method: "POST",
            headers: replica.authorization
              ? { "content-type": "application/json", "x-request-id": ourId, authorization: replica.authorization }
              : { "content-type": "application/json", "x-request-id": ourId },
            body: payload,
            headersTimeout: settings.requestTimeout * 1000,
            bodyTimeout: settings.requestTimeout * 1000,
          },
          call,
        );
        answer = await call.done;
      } catch (error) {
        if (res.interrupts.reason) return undefined;
        limiter.overload();
        last = {
          ...(isTimeout(error)
            ? batchLineError("upstream_timeout", { seconds: settings.requestTimeout })
            : batchLineError("upstream_unreachable", { detail: (error as Error).message || "connection failed" })),
          response: null,
        };
        continue;
      } finally {
        flight.call = undefined;
        replica.release();
      }
      const latencyMs = performance.now() - started;
      const given = answer.headers["x-request-id"];
      const requestId = typeof given === "string" && given ? given : ourId;
      retryAfter = retryAfterMs(answer.headers["retry-after"]);
      const text = answer.body.toString("utf8");
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // kept as text in the error line
      }
      if (answer.status === 200 && typeof parsed === "object" && parsed !== null) {
        limiter.success(latencyMs);
        const tokens = tokensOf(parsed);
        this.counters.completed.inc();
        this.usage(200, tokens, latencyMs, requestId);
        // The server's own JSON goes in as it came (re-serialised only if it spans lines).
        const raw = text.includes("\n") ? JSON.stringify(parsed) : text;
        return {
          customId: request.custom_id,
          line: format.result(index, request.custom_id, requestId, raw),
          ok: true,
          promptTokens: tokens.prompt,
          completionTokens: tokens.completion,
        };
      }
      const response = { status_code: answer.status, request_id: requestId, body: parsed };
      if (answer.status === 200) {
        last = { ...batchLineError("invalid_upstream_response", {}), response };
        break;
      }
      if (TRANSIENT.has(answer.status)) {
        if (answer.status === 429 || answer.status === 503) limiter.overload();
        else limiter.success(latencyMs);
        const attempts = { status: answer.status, attempts: settings.retries + 1 };
        last = {
          ...(answer.status === 429
            ? batchLineError("rate_limited", attempts)
            : batchLineError("upstream_error", attempts)),
          response,
        };
        continue;
      }
      limiter.success(latencyMs);
      const message =
        (parsed as { error?: { message?: unknown } } | null)?.error?.message ??
        (parsed as { message?: unknown } | null)?.message;
      last = {
        ...batchLineError("model_server_rejected", {
          detail: typeof message === "string" ? message : `The model server answered ${answer.status}.`,
        }),
        response,
      };
      break;
    }
    this.counters.failed.inc();
    this.usage(last.response?.status_code ?? 502, { prompt: 0, completion: 0 }, 0, ourId);
    return format.failed(index, request.custom_id, last.response, { code: last.code, message: last.message });
  }

  private usage(status: number, tokens: { prompt: number; completion: number }, latencyMs: number, requestId: string) {
    const { batch, deps } = this.res;
    deps.onUsage?.({
      batchId: batch.id,
      userId: batch.userId,
      model: batch.model,
      cluster: batch.clusterName,
      route: "/v1/batches",
      status,
      promptTokens: tokens.prompt,
      completionTokens: tokens.completion,
      latencyMs: Math.round(latencyMs),
      requestId,
    });
  }

  /** A live replica; when there is none, start the model and wait (a batch waits, it does not fail). */
  private async replica(): Promise<ReturnType<Scheduler["acquire"]>> {
    const { scheduler } = this.res.deps;
    const { batch, interrupts } = this.res;
    for (;;) {
      const replica = scheduler.acquire(batch.clusterName, batch.model);
      if (replica) {
        this.parts.progress.waitingFor = null;
        return replica;
      }
      if (interrupts.reason) return undefined;
      this.waiting ??= this.waitForModel().finally(() => {
        this.waiting = undefined;
      });
      await this.waiting;
    }
  }

  private async waitForModel(): Promise<void> {
    const { scheduler } = this.res.deps;
    const { batch, interrupts } = this.res;
    const availability = await scheduler.ensureLive(batch.clusterName, batch.model).catch(() => undefined);
    if (availability && availability.status !== "live") {
      const position = availability.queuePosition ? `, position ${availability.queuePosition} in the queue` : "";
      const eta = availability.etaSeconds !== null ? `, about ${Math.ceil(availability.etaSeconds)} s to go` : "";
      this.parts.progress.waitingFor = `model ${batch.model} is ${availability.status}${position}${eta}${availability.reason ? ` (${availability.reason})` : ""}`;
    }
    await sleep(250, undefined, { signal: interrupts.signal }).catch(() => {});
  }
}
