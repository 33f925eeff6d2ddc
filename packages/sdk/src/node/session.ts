import { TokenResponseSchema } from "@switchyard/core";
import { LoginRequiredError, OAuthError, SwitchyardSDKError } from "../errors";
import { type Fetch, oauthPost } from "../http";
import type { StoredSession, TokenStore } from "./token-store";

/** Refresh this long before the access token expires, so a token handed out still works for a while. */
export const REFRESH_MARGIN_MS = 5 * 60_000;

/** The client id `sy login` uses (the server's default device client). */
export const CLI_CLIENT_ID = "sy-cli";

/** A stored session, updated from a token response (times by this machine's clock). */
export function sessionFrom(
  tokens: { access_token: string; refresh_token: string; expires_in: number },
  identity: { username: string; user_id: string; logged_in_at: string; client_id: string },
  now = Date.now(),
): StoredSession {
  return {
    ...identity,
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    expires_at: new Date(now + tokens.expires_in * 1000).toISOString(),
    refreshed_at: null,
  };
}

/**
 * The login stored for one server: hands out a valid access token, refreshing it (rotating
 * the refresh token) when it is about to expire or the server said it has. One refresh at a
 * time per process, and across processes through the token file's lock: whoever comes second
 * finds the new token and uses it instead of presenting the old refresh token again.
 */
export class StoredLogin {
  private refreshing: Promise<string> | undefined;

  constructor(
    readonly server: string,
    readonly store: TokenStore,
    private readonly fetcher: Fetch,
  ) {}

  /** The stored entry, or undefined when this machine never logged in to the server. */
  current(): StoredSession | undefined {
    return this.store.get(this.server);
  }

  /**
   * A token valid for at least `REFRESH_MARGIN_MS`. `rejected` is a token the server just
   * refused as expired: refresh unless the store already holds a newer one.
   */
  async accessToken(rejected?: string): Promise<string> {
    const session = this.current();
    if (!session) throw new LoginRequiredError(this.server, "not_logged_in");
    if (rejected === undefined && fresh(session)) return session.access_token;
    this.refreshing ??= this.refresh(rejected).finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private refresh(rejected: string | undefined): Promise<string> {
    return this.store.update(async (file) => {
      const session = file.servers[this.server];
      if (!session) throw new LoginRequiredError(this.server, "not_logged_in");
      // Another process (or an earlier call) refreshed while we waited for the lock.
      if (session.access_token !== rejected && fresh(session)) return session.access_token;
      let answer: unknown;
      try {
        answer = await oauthPost(this.fetcher, this.server, "/auth/token", {
          grant_type: "refresh_token",
          refresh_token: session.refresh_token,
          client_id: session.client_id,
        });
      } catch (error) {
        if (error instanceof OAuthError && error.error === "invalid_grant") {
          throw new LoginRequiredError(this.server, "session_ended", error.description);
        }
        throw error;
      }
      const tokens = TokenResponseSchema.safeParse(answer);
      if (!tokens.success) {
        throw new SwitchyardSDKError(`The server at ${this.server} answered the refresh with an unexpected body.`);
      }
      const next = {
        ...sessionFrom(tokens.data, session),
        refreshed_at: new Date().toISOString(),
      };
      file.servers[this.server] = next;
      return next.access_token;
    });
  }
}

function fresh(session: StoredSession): boolean {
  return Date.parse(session.expires_at) - Date.now() > REFRESH_MARGIN_MS;
}
