import { useSyncExternalStore } from "react";

/**
 * The signed-in session: an access token kept in sessionStorage (this tab only, gone when it
 * closes) and refreshed with its refresh token shortly before it expires. Password sign-in
 * uses the built-in issuer (POST /auth/token); an OIDC provider's tokens are refreshed at the
 * provider's token endpoint.
 */

export type Provider =
  | { kind: "password" }
  | { kind: "oidc"; issuer: string; tokenEndpoint: string; clientId: string; resource: string | null };

interface Stored {
  accessToken: string;
  refreshToken: string | null;
  /** ms since the epoch. */
  expiresAt: number;
  provider: Provider;
}

export interface TokenResponse {
  access_token?: string;
  refresh_token?: string;
  expires_in?: number;
  error?: string;
  error_description?: string;
}

const STORAGE_KEY = "switchyard.session";
/** The dashboard's client id at the built-in issuer (shows in tokens and logs). */
export const CLIENT_ID = "sy-dashboard";
/** Refresh this long before the access token expires. */
const REFRESH_MARGIN_MS = 60_000;

export class SignInError extends Error {}

function load(): Stored | null {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    return raw ? (JSON.parse(raw) as Stored) : null;
  } catch {
    return null;
  }
}

export function storedFromTokens(body: TokenResponse, provider: Provider, previous?: Stored): Stored {
  if (!body.access_token) throw new SignInError(body.error_description ?? body.error ?? "no access token was returned");
  return {
    accessToken: body.access_token,
    // Refresh tokens rotate; a provider that does not send a new one keeps the old one valid.
    refreshToken: body.refresh_token ?? previous?.refreshToken ?? null,
    expiresAt: Date.now() + (body.expires_in ?? 3600) * 1000,
    provider,
  };
}

async function postForm(url: string, params: Record<string, string>): Promise<{ ok: boolean; body: TokenResponse }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
    body: new URLSearchParams(params),
  });
  const body = (await res.json().catch(() => ({ error: `HTTP ${res.status}` }))) as TokenResponse;
  return { ok: res.ok, body };
}

class Session {
  private stored: Stored | null = load();
  private refreshing: Promise<string | undefined> | null = null;
  private readonly listeners = new Set<() => void>();
  /** Why the last session ended, for the sign-in page. */
  endedBecause: string | null = null;

  get signedIn(): boolean {
    return this.stored !== null;
  }

  get provider(): Provider | undefined {
    return this.stored?.provider;
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private set(next: Stored | null): void {
    this.stored = next;
    if (next) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(next));
    else sessionStorage.removeItem(STORAGE_KEY);
    for (const listener of this.listeners) listener();
  }

  /** Store tokens from a completed sign-in (password or OIDC). */
  accept(stored: Stored): void {
    this.endedBecause = null;
    this.set(stored);
  }

  async signInWithPassword(username: string, password: string): Promise<void> {
    const { ok, body } = await postForm("/auth/token", {
      grant_type: "password",
      username,
      password,
      client_id: CLIENT_ID,
    });
    if (!ok) throw new SignInError(body.error_description ?? body.error ?? "sign-in failed");
    this.accept(storedFromTokens(body, { kind: "password" }));
  }

  /** A valid access token, refreshed first when it is about to expire; undefined when signed out. */
  accessToken(): Promise<string | undefined> {
    const current = this.stored;
    if (!current) return Promise.resolve(undefined);
    if (current.expiresAt - Date.now() > REFRESH_MARGIN_MS) return Promise.resolve(current.accessToken);
    if (!current.refreshToken) {
      if (current.expiresAt > Date.now()) return Promise.resolve(current.accessToken);
      this.end("Your session expired. Sign in again.");
      return Promise.resolve(undefined);
    }
    this.refreshing ??= this.refresh(current).finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async refresh(current: Stored): Promise<string | undefined> {
    const provider = current.provider;
    const endpoint = provider.kind === "password" ? "/auth/token" : provider.tokenEndpoint;
    const params: Record<string, string> = {
      grant_type: "refresh_token",
      refresh_token: current.refreshToken ?? "",
      client_id: provider.kind === "password" ? CLIENT_ID : provider.clientId,
    };
    if (provider.kind === "oidc" && provider.resource) params.resource = provider.resource;
    let result: Awaited<ReturnType<typeof postForm>>;
    try {
      result = await postForm(endpoint, params);
    } catch {
      // Offline for a moment: keep using the token while it lasts.
      return current.expiresAt > Date.now() ? current.accessToken : undefined;
    }
    if (!result.ok) {
      this.end(
        result.body.error_description?.includes("login required")
          ? "Seven days have passed since you signed in. Sign in again."
          : "Your session expired. Sign in again.",
      );
      return undefined;
    }
    const next = storedFromTokens(result.body, provider, current);
    this.set(next);
    return next.accessToken;
  }

  /** The server refused the token (revoked, user disabled): back to the sign-in page, saying why. */
  end(reason: string): void {
    this.endedBecause = reason;
    this.set(null);
  }

  async signOut(): Promise<void> {
    const current = this.stored;
    this.endedBecause = null;
    this.set(null);
    if (current?.provider.kind === "password") {
      // Revoke the whole refresh-token session and this access token (RFC 7009); best effort.
      for (const token of [current.refreshToken, current.accessToken]) {
        if (token) await postForm("/auth/revoke", { token }).catch(() => undefined);
      }
    }
  }
}

export const session = new Session();

/** Re-render when the session starts or ends. */
export function useSignedIn(): boolean {
  return useSyncExternalStore(session.subscribe, () => session.signedIn);
}
