import type { DeviceCodeResponse, Me } from "@switchyard/core";
import { deviceGrant } from "../device-grant";
import { IdentityMismatchError, TokenStoreError } from "../errors";
import { type Fetch, oauthPost } from "../http";
import { DEFAULT_SERVER, normalizeServer } from "../server-url";
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
 * The device authorization grant (RFC 8628) end to end (`deviceGrant`: ask for a code, let the
 * caller show it, poll until the user approved it at `/device`, check who approved it), then
 * store the tokens in the token file. Approving as a different user than
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

  const { tokens, me } = await deviceGrant({
    server,
    clientId,
    fetch: fetcher,
    signal,
    onCode: options.onCode,
    onPoll: options.onPoll,
  });
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
