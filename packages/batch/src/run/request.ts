import { setTimeout as sleep } from "node:timers/promises";
import { type BatchLineError, batchLineError, modelWaitDetail } from "@switchyard/core";
import type { Scheduler } from "@switchyard/scheduler";
import {
  BufferedExchange,
  classifyFailure,
  mayRetry,
  modelServerHeaders,
  type RetryPolicy,
  retryDelay,
  type Failure as UpstreamFailure,
  upstreamErrorOf,
} from "@switchyard/upstream";
import { type TokenUsage, type UsageNames, usageFromObject, usageNamesOf } from "@switchyard/usage";
import type { AdaptiveConcurrency } from "../concurrency";
import type { Finished, LineFormat, LineResponse } from "./output-lines";
import type { Progress } from "./progress";
import type { RunResources } from "./resources";

/**
 * One batch line's call to a model server: the replica (waiting for a cold model), the attempts
 * and what each failure means for the line. The talking itself (the dispatch handler, failure
 * classes, Retry-After, backoff, headers, error bodies) is `@switchyard/upstream`'s, shared
 * with the gateway; what is the batch's own is here: a line is never dropped, it waits for its
 * model, and each way it can fail ends as a typed line error code.
 */

/** A line whose request runs now, with the call in progress (if one is) to abort on interrupt. */
export interface InFlight {
  call: BufferedExchange | undefined;
}

/** One input line's request. */
export interface LineRequest {
  custom_id: string;
  body: Record<string, unknown>;
}

const NO_TOKENS: TokenUsage = { prompt: 0, completion: 0 };

/** Why an attempt failed: the line's error, and the server's answer when it gave one. */
type Failure = BatchLineError & { response: LineResponse | null };

/**
 * Sends the lines of one run: each with up to `batch.retries` retries, to a replica from the
 * scheduler, feeding the adaptive concurrency with every answer's latency or pushback.
 */
export class LineRequests {
  private waiting: Promise<void> | undefined;
  /** Every failure but a refusal is tried again (`batch.retries` times): a line is not given up lightly. */
  private readonly policy: RetryPolicy;
  /** How the batch's endpoint names its token counts. */
  private readonly usageNames: UsageNames;
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
    const { metrics, settings } = res.deps;
    const model = res.batch.model;
    this.policy = {
      retries: settings.retries,
      retryOn: ["timeout", "unreachable", "transient"],
      baseDelayMs: 500,
      maxDelayMs: 30_000,
    };
    this.usageNames = usageNamesOf(res.batch.endpoint);
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
    let failure: UpstreamFailure | undefined;
    const policy = this.policy;
    for (let attempt = 0; attempt <= policy.retries; attempt++) {
      if (res.interrupts.reason) return undefined;
      if (attempt > 0) {
        this.counters.retried.inc();
        try {
          await sleep(retryDelay(policy, attempt, failure), undefined, { signal: res.interrupts.signal });
        } catch {
          return undefined;
        }
      }
      const replica = await this.replica();
      if (!replica) return undefined;
      const started = performance.now();
      const call = new BufferedExchange(started);
      flight.call = call;
      let answer: BufferedExchange;
      try {
        res.deps.pool(replica.baseUrl).dispatch(
          {
            path: res.batch.endpoint,
            method: "POST",
            headers: modelServerHeaders(ourId, replica.authorization),
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
        failure = classifyFailure(error);
        last = {
          ...(failure.kind === "timeout"
            ? batchLineError("upstream_timeout", { seconds: settings.requestTimeout })
            : batchLineError("upstream_unreachable", { detail: (error as Error).message || "connection failed" })),
          response: null,
        };
        if (mayRetry(policy, failure, attempt)) continue;
        break;
      } finally {
        flight.call = undefined;
        replica.release();
      }
      const latencyMs = performance.now() - started;
      const given = answer.headers["x-request-id"];
      const requestId = typeof given === "string" && given ? given : ourId;
      const text = answer.body.toString("utf8");
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // kept as text in the error line
      }
      if (answer.status === 200 && typeof parsed === "object" && parsed !== null) {
        limiter.success(latencyMs);
        const tokens = usageFromObject(parsed, this.usageNames) ?? NO_TOKENS;
        this.counters.completed.inc();
        // The server's own JSON goes in as it came (re-serialised only if it spans lines).
        const raw = text.includes("\n") ? JSON.stringify(parsed) : text;
        return {
          customId: request.custom_id,
          line: format.result(index, request.custom_id, requestId, raw),
          ok: true,
          promptTokens: tokens.prompt,
          completionTokens: tokens.completion,
          usage: { at: res.now(), requestId, status: 200, latencyMs: Math.round(latencyMs) },
        };
      }
      const response = { status_code: answer.status, request_id: requestId, body: parsed };
      if (answer.status === 200) {
        last = { ...batchLineError("invalid_upstream_response", {}), response };
        break;
      }
      // Any other answer below 400 (a 204, a redirect) is as final as a refusal.
      failure = classifyFailure(answer) ?? { kind: "rejected", status: answer.status };
      if (failure.kind === "transient") {
        if (answer.status === 429 || answer.status === 503) limiter.overload();
        else limiter.success(latencyMs);
        const attempts = { status: answer.status, attempts: policy.retries + 1 };
        last = {
          ...(answer.status === 429
            ? batchLineError("rate_limited", attempts)
            : batchLineError("upstream_error", attempts)),
          response,
        };
        if (mayRetry(policy, failure, attempt)) continue;
        break;
      }
      limiter.success(latencyMs);
      last = {
        ...batchLineError("model_server_rejected", {
          detail: upstreamErrorOf(parsed)?.message ?? `The model server answered ${answer.status}.`,
        }),
        response,
      };
      break;
    }
    this.counters.failed.inc();
    const failed = format.failed(index, request.custom_id, last.response, { code: last.code, message: last.message });
    failed.usage = { at: res.now(), requestId: ourId, status: last.response?.status_code ?? 502, latencyMs: 0 };
    return failed;
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
      this.parts.progress.waitingFor = `model ${batch.model} is ${availability.status}${modelWaitDetail(availability)}`;
    }
    await sleep(250, undefined, { signal: interrupts.signal }).catch(() => {});
  }
}
