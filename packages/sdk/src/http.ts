import { OAuthErrorBodySchema } from "@switchyard/core";
import { APIConnectionError, OAuthError } from "./errors";

export type Fetch = typeof fetch;

export const USER_AGENT = "switchyard-sdk/0.1.0";

/** True for the error a fetch throws when its signal aborted it (the caller's, not a timeout). */
export function isAbort(error: unknown, signal?: AbortSignal): boolean {
  return signal?.aborted === true && (error as Error)?.name === "AbortError";
}

/** The caller's signal combined with a timeout (none when `timeoutMs` is 0). */
export function withTimeout(signal: AbortSignal | undefined, timeoutMs: number): AbortSignal | undefined {
  if (!timeoutMs) return signal;
  const timeout = AbortSignal.timeout(timeoutMs);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

/** fetch, with "could not connect" turned into APIConnectionError and the caller's abort passed through. */
export async function send(fetcher: Fetch, server: string, url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetcher(url, init);
  } catch (error) {
    if ((error as Error)?.name === "AbortError" && init.signal?.aborted) {
      const reason = init.signal.reason as Error | undefined;
      // Our own timeout reads as unreachable; the caller's abort stays an abort.
      if (reason?.name === "TimeoutError") throw new APIConnectionError(server, reason);
      throw error;
    }
    throw new APIConnectionError(server, error);
  }
}

/** Sleep that ends early (with the abort error) when the signal fires. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * POST a form to one of the `/auth/*` endpoints (RFC 6749 style): the JSON answer, or an
 * OAuthError with the server's `error` and `error_description`.
 */
export async function oauthPost(
  fetcher: Fetch,
  server: string,
  route: string,
  params: Record<string, string>,
  signal?: AbortSignal,
): Promise<unknown> {
  const res = await send(fetcher, server, `${server}${route}`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      accept: "application/json",
      "user-agent": USER_AGENT,
    },
    body: new URLSearchParams(params).toString(),
    signal: withTimeout(signal, 30_000),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (res.ok && json !== undefined) return json;
  const parsed = OAuthErrorBodySchema.safeParse(json);
  if (parsed.success) throw new OAuthError(res.status, parsed.data.error, parsed.data.error_description ?? "");
  throw new OAuthError(
    res.status,
    "server_error",
    `HTTP ${res.status} from ${route}${text ? `: ${text.slice(0, 200)}` : ""}`,
  );
}
