import { type DeviceCodeResponse, DeviceCodeResponseSchema, type Me, TokenResponseSchema } from "@switchyard/core";
import { apiErrorFrom, IdentityMismatchError, OAuthError, SwitchyardSDKError, TokenStoreError } from "./errors";
import { type Fetch, oauthPost, send, sleep, USER_AGENT, withTimeout } from "./http";
import { DEFAULT_SERVER, normalizeServer } from "./server-url";
import { CLI_CLIENT_ID, sessionFrom } from "./session";
import { defaultTokenPath, TokenStore } from "./token-store";

export interface DeviceLoginOptions {
  /** The server (default: `SWITCHYARD_URL`, else http://127.0.0.1:8080). */
  baseURL?: string | undefined;
  tokenStore?: TokenStore | string | undefined;
  /** Replace whatever login is stored for the server, whoever it belongs to. */
  force?: boolean | undefined;
  clientId?: string | undefined;
  /** Show the user where to go and which code to confirm. */
  onCode: (code: DeviceCodeResponse & { verification_uri_complete: string }) => void;
  /** Told on every poll that is still waiting (for a spinner). */
  onPoll?: (() => void) | undefined;
  signal?: AbortSignal | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  fetch?: Fetch | undefined;
}

export interface LoginResult {
  server: string;
  username: string;
  me: Me;
  /** When the new access token expires (this machine's clock). */
  expiresAt: Date;
  /** Whose login was replaced (with `force`), if anyone's. */
  replaced: string | null;
  /** Where the tokens were written. */
  tokenFile: string;
}

/**
 * The device authorization grant (RFC 8628) end to end: ask for a code, let the caller show
 * it, poll at the server's interval (slower when told `slow_down`) until the user approved it
 * at `/device`, check who approved it, and store the tokens. Approving as a different user than
 * the one stored for the server is an IdentityMismatchError (nothing is changed) unless `force`.
 */
export async function deviceLogin(options: DeviceLoginOptions): Promise<LoginResult> {
  const env = options.env ?? process.env;
  const server = normalizeServer(options.baseURL ?? env.SWITCHYARD_URL ?? DEFAULT_SERVER);
  const store =
    options.tokenStore instanceof TokenStore
      ? options.tokenStore
      : new TokenStore(options.tokenStore ?? defaultTokenPath(env));
  const fetcher = options.fetch ?? fetch;
  const clientId = options.clientId ?? CLI_CLIENT_ID;
  const { signal } = options;

  // A damaged token file stops a plain login (it may hold other servers' logins); --force starts anew.
  try {
    store.read();
  } catch (error) {
    if (!(error instanceof TokenStoreError) || !options.force) throw error;
    store.moveAside();
  }

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
  const loggedInAt = new Date().toISOString();
  const session = sessionFrom(tokens, {
    username: me.username,
    user_id: me.id,
    logged_in_at: loggedInAt,
    client_id: clientId,
  });

  let previous: { username: string; refresh_token: string } | undefined;
  try {
    previous = await store.update((file) => {
      const stored = file.servers[server];
      if (stored && stored.username !== me.username && !options.force) {
        throw new IdentityMismatchError(server, stored.username, me.username);
      }
      file.servers[server] = session;
      file.default_server = server;
      return stored;
    });
  } catch (error) {
    // Leave nothing usable behind: the tokens just issued are not kept anywhere.
    await oauthPost(fetcher, server, "/auth/revoke", { token: tokens.refresh_token }).catch(() => {});
    throw error;
  }
  // The replaced login's session ends too (a new login supersedes it).
  if (previous && previous.refresh_token !== session.refresh_token) {
    await oauthPost(fetcher, server, "/auth/revoke", { token: previous.refresh_token }).catch(() => {});
  }
  return {
    server,
    username: me.username,
    me,
    expiresAt: new Date(session.expires_at),
    replaced: previous && previous.username !== me.username ? previous.username : null,
    tokenFile: store.path,
  };
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
