import type { ServerResponse } from "node:http";
import type { Principal } from "@switchyard/auth";
import type { RequestFacts } from "@switchyard/http";
import type { ReplicaFailure } from "@switchyard/scheduler";
import type { TokenUsage } from "@switchyard/usage";
import { promptEstimate } from "./estimate";
import type { GatewayDeps } from "./handler";
import type { KindSpec } from "./kinds";
import type { Charge } from "./limits";
import type { Target } from "./resolve";

/** How a proxied request ended, as `account` needs it. */
export interface Outcome {
  status: number;
  /** Tokens to account for; undefined when they cannot be known (see `account`). */
  usage: TokenUsage | undefined;
  ttftMs: number | null;
  /** The replica failed after the answer had started (a stream cut short). */
  failure?: ReplicaFailure | undefined;
}

/**
 * Settle the token budgets and record usage, metrics and the log fields of a proxied request.
 * Tokens not reported (a non-streamed answer the client walked away from, or one without a
 * `usage`) keep the whole estimate charged: the model server may have generated all of it.
 */
export function account(
  deps: GatewayDeps,
  spec: KindSpec,
  target: Target,
  principal: Principal,
  facts: RequestFacts,
  res: ServerResponse,
  charge: Charge,
  outcome: Outcome,
  stream: boolean,
  bodyBytes: number,
  started: number,
  projectId: string | null,
): void {
  const status = outcome.status || (res.destroyed && !res.writableFinished ? 499 : res.statusCode);
  let usage = outcome.usage;
  if (usage) {
    void deps.limits.settle(charge, usage.prompt + usage.completion).catch(() => {});
  } else if (status !== 499 && status !== 200) {
    void deps.limits.settle(charge, 0).catch(() => {}); // refused or failed: nothing generated
  }
  usage ??= status === 499 || status === 200 ? { prompt: promptEstimate(bodyBytes), completion: 0 } : NO_USAGE;
  const seconds = (performance.now() - started) / 1000;
  deps.metrics.finished(
    spec.kind,
    target.model.id,
    status,
    seconds,
    outcome.ttftMs === null ? null : outcome.ttftMs / 1000,
    usage.prompt,
    usage.completion,
  );
  deps.usage.record({
    at: new Date(),
    requestId: facts.requestId,
    userId: principal.userId,
    apiKeyId: principal.keyId ?? null,
    model: target.model.id,
    cluster: target.cluster.name,
    route: spec.path,
    status,
    promptTokens: usage.prompt,
    completionTokens: usage.completion,
    latencyMs: Math.round(seconds * 1000),
    ttftMs: outcome.ttftMs === null ? null : Math.round(outcome.ttftMs),
    stream,
    projectId,
  });
  facts.log = { tokens: usage.prompt + usage.completion, ...(stream ? { stream: true } : {}) };
}

const NO_USAGE: TokenUsage = { prompt: 0, completion: 0 };
