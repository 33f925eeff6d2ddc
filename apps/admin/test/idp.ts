import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair } from "jose";
import Provider from "oidc-provider";

export const DASHBOARD_CLIENT = "switchyard-dashboard";
export const RESOURCE = "https://switchyard.test/api";

export interface DashboardIdp {
  issuer: string;
  /** Register the dashboard's redirect URI (known once Switchyard listens) and start answering. */
  attach(redirectUri: string): void;
  close(): Promise<void>;
}

/**
 * A real OpenID provider (`oidc-provider`, as the auth package's tests use) for the dashboard's
 * single sign-on: a public client using the authorization code flow with PKCE, its development
 * login and consent pages (any login name), and JWT access tokens for Switchyard's audience
 * carrying a groups claim. It listens first, so Switchyard's config can name its issuer.
 */
export async function startDashboardIdp(): Promise<DashboardIdp> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: "dashboard-idp-1", alg: "ES256", use: "sig" };
  return {
    issuer,
    attach(redirectUri) {
      const provider = new Provider(issuer, {
        clients: [
          {
            client_id: DASHBOARD_CLIENT,
            token_endpoint_auth_method: "none",
            grant_types: ["authorization_code", "refresh_token"],
            response_types: ["code"],
            redirect_uris: [redirectUri],
            id_token_signed_response_alg: "ES256",
          },
        ],
        jwks: { keys: [jwk] },
        cookies: { keys: ["dashboard-idp-cookie-key"] },
        ttl: { AccessToken: 3600, IdToken: 3600, Interaction: 600, Session: 3600, Grant: 3600 },
        // The dashboard calls the token endpoint from its own origin (a public client).
        clientBasedCORS: (_ctx: unknown, origin: string, client: { redirectUris?: string[] }) =>
          (client.redirectUris ?? []).some((uri) => new URL(uri).origin === origin),
        pkce: { required: () => true },
        scopes: ["openid", "profile", "api", "offline_access"],
        claims: { openid: ["sub"], profile: ["preferred_username"] },
        findAccount: (_ctx: unknown, id: string) => ({
          accountId: id,
          claims: () => ({ sub: id, preferred_username: id }),
        }),
        extraTokenClaims: (_ctx: unknown, token: { accountId?: string }) =>
          token.accountId ? { preferred_username: token.accountId, groups: ["physics"] } : {},
        features: {
          devInteractions: { enabled: true },
          resourceIndicators: {
            enabled: true,
            defaultResource: () => RESOURCE,
            useGrantedResource: () => true,
            getResourceServerInfo: () => ({
              scope: "api",
              audience: "switchyard",
              accessTokenTTL: 3600,
              accessTokenFormat: "jwt",
              jwt: { sign: { alg: "ES256" } },
            }),
          },
        },
      } as ConstructorParameters<typeof Provider>[1]);
      server.on("request", provider.callback());
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
