import {
  type DeviceCodeResponse,
  DeviceCodeResponseSchema,
  type Me,
  type TokenResponse,
  TokenResponseSchema,
} from "@switchyard/core";
import { apiErrorFrom, OAuthError, SwitchyardSDKError } from "./errors";
import { type Fetch, oauthPost, send, sleep, USER_AGENT, withTimeout } from "./http";

export interface DeviceGrantOptions {
  /** The server, normalized. */
  server: string;
  clientId: string;
  fetch: Fetch;
  signal?: AbortSignal | undefined;
  /** Show the user where to go and which code to confirm. */
  onCode: (code: DeviceCodeResponse & { verification_uri_complete: string }) => void;
  /** Told on every poll that is still waiting (for a spinner). */
  onPoll?: (() => void) | undefined;
}

/**
 * The device authorization grant (RFC 8628) itself: ask for a code, let the caller show it,
 * poll at the server's interval (slower when told `slow_down`) until the user approved it at
 * `/device`, and ask who approved it. Storing the tokens is the caller's (`deviceLogin` in Node).
 */
export async function deviceGrant(options: DeviceGrantOptions): Promise<{ tokens: TokenResponse; me: Me }> {
  const { server, clientId, signal } = options;
  const fetcher = options.fetch;
  const code = expectShape(
    DeviceCodeResponseSchema,
    await oauthPost(fetcher, server, "/auth/device/code", { client_id: clientId }, signal),
    server,
    "/auth/device/code",
  );
  const complete =
    code.verification_uri_complete ?? `${code.verification_uri}?user_code=${encodeURIComponent(code.user_code)}`;
  options.onCode({ ...code, verification_uri_complete: complete });

  let interval = Math.max(1, code.interval ?? 5) * 1000;
  const deadline = Date.now() + code.expires_in * 1000;
  let answer: unknown;
  for (;;) {
    await sleep(interval, signal);
    try {
      answer = await oauthPost(
        fetcher,
        server,
        "/auth/token",
        {
          grant_type: "urn:ietf:params:oauth:grant-type:device_code",
          device_code: code.device_code,
          client_id: clientId,
        },
        signal,
      );
      break;
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      if (error.error === "authorization_pending") {
        if (Date.now() > deadline) throw deviceError("expired_token", server);
        options.onPoll?.();
        continue;
      }
      if (error.error === "slow_down") {
        interval += 5000;
        continue;
      }
      throw deviceError(error.error, server, error);
    }
  }
  const tokens = expectShape(TokenResponseSchema, answer, server, "/auth/token");
  const me = await whoIs(fetcher, server, tokens.access_token, signal);
  return { tokens, me };
}

/** The answer in the shape the schema says, or an error naming the server and route. */
function expectShape<T>(
  schema: { safeParse(value: unknown): { success: true; data: T } | { success: false } },
  answer: unknown,
  server: string,
  route: string,
): T {
  const parsed = schema.safeParse(answer);
  if (parsed.success) return parsed.data;
  throw new SwitchyardSDKError(`${server} answered POST ${route} in an unexpected shape; is it a Switchyard server?`);
}

async function whoIs(fetcher: Fetch, server: string, token: string, signal?: AbortSignal): Promise<Me> {
  const res = await send(fetcher, server, `${server}/v1/me`, {
    headers: { authorization: `Bearer ${token}`, accept: "application/json", "user-agent": USER_AGENT },
    signal: withTimeout(signal, 30_000),
  });
  const text = await res.text();
  if (!res.ok) throw apiErrorFrom(res.status, res.headers, text);
  return JSON.parse(text) as Me;
}

/** The device grant's terminal errors, in words a person at a terminal can act on. */
export class DeviceLoginError extends SwitchyardSDKError {
  constructor(
    readonly reason: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

function deviceError(reason: string, server: string, cause?: OAuthError): DeviceLoginError {
  const messages: Record<string, string> = {
    access_denied: `The login was denied at ${server}/device. Nothing was stored.`,
    expired_token:
      "The code expired before it was approved. Run 'sy login' again and approve the new code within its time.",
  };
  return new DeviceLoginError(
    reason,
    messages[reason] ?? `The login failed: ${cause?.message ?? reason}.`,
    cause ? { cause } : undefined,
  );
}
