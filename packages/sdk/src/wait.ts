import { ModelNotReadyError } from "./errors";
import { sleep } from "./http";

/** Waiting for a cold model: retry a 503 `model_not_ready` as its `Retry-After` says, up to `maxWaitMs`. */
export interface WaitForModel {
  /** Give up (throwing the last ModelNotReadyError) once this much time has passed. Default 15 minutes. */
  maxWaitMs?: number;
  /** Try again at least this often, whatever `Retry-After` says (a page showing progress). Default: no limit. */
  maxIntervalMs?: number;
  /** Told each time the model is not ready yet, with how long the next wait is. */
  onWait?: (error: ModelNotReadyError, wait: { retryInMs: number; waitedMs: number }) => void;
}

/**
 * The cold-model wait: run `attempt`, and while it fails with ModelNotReadyError (the model is
 * queued or starting), wait as the server's `Retry-After` says (at least 1 s, 5 s when it says
 * nothing) and run it again. Any other error, the signal, or `maxWaitMs` ends the wait.
 */
export async function waitForModel<T>(
  attempt: () => Promise<T>,
  options: WaitForModel & { signal?: AbortSignal | undefined } = {},
): Promise<T> {
  const maxWaitMs = options.maxWaitMs ?? 15 * 60_000;
  const started = Date.now();
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof ModelNotReadyError)) throw error;
      const waitedMs = Date.now() - started;
      const asked = Math.max(1000, (error.retryAfter ?? 5) * 1000);
      const retryInMs = Math.min(asked, options.maxIntervalMs ?? asked);
      if (waitedMs + retryInMs > maxWaitMs) throw error;
      options.onWait?.(error, { retryInMs, waitedMs });
      await sleep(retryInMs, options.signal);
    }
  }
}
