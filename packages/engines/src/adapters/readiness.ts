import type { ReadinessCheck } from "./types";

export interface ReadyResult {
  ready: boolean;
  /** Why not (or "ready"): the URL and what it answered, for logs and `failed` reasons. */
  detail: string;
  /** The status of the last probe that answered, if one did. */
  status?: number;
}

export interface CheckReadyOptions {
  /** Per probe (default 5 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** E.g. `authorization` for an external server that wants a key. */
  headers?: Record<string, string>;
}

export interface WaitForReadyOptions extends CheckReadyOptions {
  /** Give up after this long (default 15 min, a big model's load time). */
  timeoutMs?: number;
  /** Pause between rounds of probes (default 500 ms). */
  intervalMs?: number;
  /** Per probe (default 5 s). */
  probeTimeoutMs?: number;
}

/** The server did not become ready in time; `lastDetail` says what it answered last. */
export class ReadinessTimeoutError extends Error {
  constructor(
    readonly baseUrl: string,
    readonly timeoutMs: number,
    readonly lastDetail: string,
  ) {
    super(`${baseUrl} was not ready after ${Math.round(timeoutMs / 100) / 10}s: ${lastDetail}`);
    this.name = "ReadinessTimeoutError";
  }
}

function joinUrl(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, "")}${path}`;
}

function listsModel(body: unknown, format: "openai" | "ollama", model: string): boolean {
  if (body === null || typeof body !== "object") return false;
  if (format === "openai") {
    const data = (body as { data?: unknown }).data;
    return Array.isArray(data) && data.some((entry) => (entry as { id?: unknown })?.id === model);
  }
  const models = (body as { models?: unknown }).models;
  return (
    Array.isArray(models) &&
    models.some((entry) => {
      const { name, model: tag } = (entry ?? {}) as { name?: unknown; model?: unknown };
      return name === model || tag === model;
    })
  );
}

function reason(error: unknown): string {
  const cause = (error as { cause?: { code?: string } })?.cause;
  if (cause?.code) return cause.code;
  if ((error as Error)?.name === "TimeoutError") return "timed out";
  return (error as Error)?.message ?? String(error);
}

/** Run a server's readiness probes once, in order; ready when every one passes. */
export async function checkReady(
  baseUrl: string,
  checks: readonly ReadinessCheck[],
  options: CheckReadyOptions = {},
): Promise<ReadyResult> {
  let status: number | undefined;
  for (const check of checks) {
    const url = joinUrl(baseUrl, check.path);
    const timeout = AbortSignal.timeout(options.timeoutMs ?? 5000);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    let response: Response;
    try {
      response = await fetch(url, { signal, headers: options.headers });
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      return { ready: false, detail: `GET ${url}: ${reason(error)}`, ...(status === undefined ? {} : { status }) };
    }
    status = response.status;
    if (response.status !== check.status || !check.lists) {
      await response.body?.cancel();
      if (response.status !== check.status) {
        return { ready: false, status, detail: `GET ${url} answered ${response.status}, expected ${check.status}` };
      }
      continue;
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      return { ready: false, status, detail: `GET ${url} did not answer JSON` };
    }
    if (!listsModel(body, check.lists.format, check.lists.model)) {
      return { ready: false, status, detail: `GET ${url} does not list '${check.lists.model}' yet` };
    }
  }
  return { ready: true, detail: "ready", ...(status === undefined ? {} : { status }) };
}

/** Probe until ready; rejects with ReadinessTimeoutError after `timeoutMs`, or with the signal's reason when aborted. */
export async function waitForReady(
  baseUrl: string,
  checks: readonly ReadinessCheck[],
  options: WaitForReadyOptions = {},
): Promise<ReadyResult> {
  const timeoutMs = options.timeoutMs ?? 15 * 60_000;
  const intervalMs = options.intervalMs ?? 500;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    options.signal?.throwIfAborted();
    const left = deadline - Date.now();
    const result = await checkReady(baseUrl, checks, {
      timeoutMs: Math.max(1, Math.min(options.probeTimeoutMs ?? 5000, left)),
      signal: options.signal,
      headers: options.headers,
    });
    if (result.ready) return result;
    if (Date.now() + intervalMs > deadline) throw new ReadinessTimeoutError(baseUrl, timeoutMs, result.detail);
    await sleep(intervalMs, options.signal);
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
