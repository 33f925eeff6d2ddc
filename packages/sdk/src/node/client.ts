import type { LocalFile } from "../batches";
import { type SwitchyardOptions as ClientOptions, Switchyard as SwitchyardClient } from "../client";
import { oauthPost } from "../http";
import { DEFAULT_SERVER, normalizeServer } from "../server-url";
import { openLocalFile } from "./files";
import { StoredLogin } from "./session";
import { defaultTokenPath, TokenStore } from "./token-store";

export interface SwitchyardOptions extends Omit<ClientOptions, "baseURL" | "apiKey"> {
  /** The server, e.g. `http://127.0.0.1:8080` (a trailing `/v1` is fine). Default: `SWITCHYARD_URL`, then the server of the last `sy login`, then http://127.0.0.1:8080. */
  baseURL?: string | undefined;
  /** An API key (`sy_...`) or access token. Default: `SWITCHYARD_API_KEY`, then the login stored by `sy login`. */
  apiKey?: string | undefined;
  /** The token store (default: `~/.config/switchyard/tokens.json`, respecting `XDG_CONFIG_HOME`), or its path. */
  tokenStore?: TokenStore | string | undefined;
  /** Where `SWITCHYARD_URL`, `SWITCHYARD_API_KEY` and `XDG_CONFIG_HOME` are read (default: `process.env`). */
  env?: NodeJS.ProcessEnv | undefined;
}

/**
 * The Switchyard client in Node: the runtime-neutral client (`@switchyard/sdk`'s), with the
 * server and credentials found as `sy` finds them (options, then `SWITCHYARD_URL` and
 * `SWITCHYARD_API_KEY`, then the login `sy login` stored), stored logins refreshing by
 * themselves, and uploads from a path on disk.
 */
export class Switchyard extends SwitchyardClient {
  readonly tokenStore: TokenStore;
  private readonly login: StoredLogin;
  private readonly hasApiKey: boolean;

  constructor(options: SwitchyardOptions = {}) {
    const env = options.env ?? process.env;
    const tokenStore =
      options.tokenStore instanceof TokenStore
        ? options.tokenStore
        : new TokenStore(options.tokenStore ?? defaultTokenPath(env));
    const given = (options.apiKey ?? env.SWITCHYARD_API_KEY)?.trim();
    const apiKey = given ? given : undefined;
    const chosen = options.baseURL ?? env.SWITCHYARD_URL ?? lastServer(tokenStore, apiKey !== undefined);
    const baseURL = normalizeServer(chosen || DEFAULT_SERVER);
    const fetcher = options.fetch ?? fetch;
    const login = new StoredLogin(baseURL, tokenStore, fetcher);
    super({
      baseURL,
      apiKey: apiKey ?? ((rejected?: string) => login.accessToken(rejected)),
      timeout: options.timeout,
      fetch: fetcher,
    });
    this.tokenStore = tokenStore;
    this.login = login;
    this.hasApiKey = apiKey !== undefined;
  }

  /** How this client authenticates: an API key (or token) given to it, or the login stored for the server. */
  get credentialSource(): "api_key" | "login" {
    return this.hasApiKey ? "api_key" : "login";
  }

  /** The stored login's access token itself (never an API key), refreshed if needed: what `sy token` prints. */
  async storedAccessToken(): Promise<string> {
    return this.login.accessToken();
  }

  /** The stored login for this server, if any (username, expiry); no network. */
  storedLogin() {
    return this.login.current();
  }

  /** End the stored login: revoke its tokens on the server (best effort) and forget them here. */
  async logout(): Promise<{ username: string } | undefined> {
    const removed = await this.tokenStore.update((file) => {
      const session = file.servers[this.baseURL];
      delete file.servers[this.baseURL];
      // default_server stays: the next command goes on talking to this server (and says to log in
      // there), rather than falling back to the built-in default address.
      return session;
    });
    if (!removed) return undefined;
    for (const token of [removed.refresh_token, removed.access_token]) {
      await oauthPost(this.fetcher, this.baseURL, "/auth/revoke", { token }).catch(() => {});
    }
    return { username: removed.username };
  }

  /** Node's fetch streams a request body: uploads go as a stream, so progress is told as bytes go. */
  protected override streamsUploads(): boolean {
    return true;
  }

  protected override localFile(path: string): Promise<LocalFile> {
    return openLocalFile(path);
  }
}

/** The server of the last `sy login`; a damaged token file only matters when it is the credential. */
function lastServer(store: TokenStore, hasApiKey: boolean): string | null {
  try {
    return store.read().default_server;
  } catch (error) {
    if (hasApiKey) return null;
    throw error;
  }
}
