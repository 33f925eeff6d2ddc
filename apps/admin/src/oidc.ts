import { SignInError, session, storedFromTokens, type TokenResponse } from "./session";

/**
 * Sign-in through an external OIDC provider: the authorization code flow with PKCE (RFC 7636)
 * as a public client. The provider sends the browser back to /admin/auth/callback, where the
 * code is exchanged for tokens at the provider's token endpoint; Switchyard then accepts the
 * provider's access tokens like any other caller's (verified against its JWKS).
 */

export interface OidcOption {
  issuer: string;
  displayName: string;
  clientId: string;
  scope: string;
  resource: string | null;
}

interface Pending {
  issuer: string;
  clientId: string;
  resource: string | null;
  tokenEndpoint: string;
  redirectUri: string;
  state: string;
  verifier: string;
  returnTo: string;
}

const PENDING_KEY = "switchyard.oidc";
export const CALLBACK_PATH = "/admin/auth/callback";

function base64url(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(bytes = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

async function discover(issuer: string): Promise<{ authorization_endpoint: string; token_endpoint: string }> {
  const url = `${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
  let res: Response;
  try {
    res = await fetch(url);
  } catch {
    throw new SignInError(`Cannot reach ${issuer}. Is the identity provider up?`);
  }
  if (!res.ok) throw new SignInError(`${url} answered ${res.status}.`);
  const meta = (await res.json()) as { authorization_endpoint?: string; token_endpoint?: string };
  if (!meta.authorization_endpoint || !meta.token_endpoint) {
    throw new SignInError(`${issuer} does not publish an authorization and a token endpoint.`);
  }
  return { authorization_endpoint: meta.authorization_endpoint, token_endpoint: meta.token_endpoint };
}

/** Send the browser to the provider's sign-in page. */
export async function startOidcSignIn(option: OidcOption, returnTo: string): Promise<void> {
  if (!crypto.subtle) {
    throw new SignInError("Single sign-on needs a secure context: open the dashboard over HTTPS (or on localhost).");
  }
  const meta = await discover(option.issuer);
  const verifier = randomString(48);
  const challenge = base64url(
    new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))),
  );
  const pending: Pending = {
    issuer: option.issuer,
    clientId: option.clientId,
    resource: option.resource,
    tokenEndpoint: meta.token_endpoint,
    redirectUri: `${location.origin}${CALLBACK_PATH}`,
    state: randomString(),
    verifier,
    returnTo,
  };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const url = new URL(meta.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: option.clientId,
    redirect_uri: pending.redirectUri,
    scope: option.scope,
    state: pending.state,
    code_challenge: challenge,
    code_challenge_method: "S256",
    ...(option.resource ? { resource: option.resource } : {}),
  }).toString();
  location.assign(url.toString());
}

/** Finish on the callback page: check the state, exchange the code. Returns where to go next. */
export async function completeOidcSignIn(search: URLSearchParams): Promise<string> {
  const raw = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  if (search.get("error")) {
    throw new SignInError(
      `The identity provider refused: ${search.get("error_description") ?? search.get("error") ?? "unknown error"}.`,
    );
  }
  if (!raw) throw new SignInError("This sign-in was not started here (or was already finished). Start it again.");
  const pending = JSON.parse(raw) as Pending;
  if (search.get("state") !== pending.state) throw new SignInError("The sign-in answer does not match its request.");
  const code = search.get("code");
  if (!code) throw new SignInError("The identity provider sent no authorization code.");
  let res: Response;
  try {
    res = await fetch(pending.tokenEndpoint, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code,
        redirect_uri: pending.redirectUri,
        client_id: pending.clientId,
        code_verifier: pending.verifier,
        ...(pending.resource ? { resource: pending.resource } : {}),
      }),
    });
  } catch {
    throw new SignInError(`Cannot reach ${pending.issuer} to finish signing in.`);
  }
  const body = (await res.json().catch(() => ({}))) as TokenResponse;
  if (!res.ok) throw new SignInError(body.error_description ?? body.error ?? `token request failed (${res.status})`);
  session.accept(
    storedFromTokens(body, {
      kind: "oidc",
      issuer: pending.issuer,
      tokenEndpoint: pending.tokenEndpoint,
      clientId: pending.clientId,
      resource: pending.resource,
    }),
  );
  return pending.returnTo;
}
