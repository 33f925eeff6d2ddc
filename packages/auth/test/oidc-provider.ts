import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair } from "jose";
import Provider, { type ClientMetadata } from "oidc-provider";

export interface TestIdp {
  issuer: string;
  /** A JWT access token for Switchyard (`aud: switchyard`) from the client-credentials grant. */
  jwtToken(client?: string): Promise<string>;
  /** An opaque access token, only checkable through introspection. */
  opaqueToken(client?: string): Promise<string>;
  /** A JWT for another audience. */
  foreignAudienceToken(): Promise<string>;
  /** An opaque token that names no audience at all: any client of the provider can get one. */
  audiencelessToken(client?: string): Promise<string>;
  close(): Promise<void>;
}

export const INTROSPECTION_SECRET = "introspect-secret";

const CLIENT_CLAIMS: Record<string, { preferred_username: string; groups: string[] }> = {
  carol: { preferred_username: "carol", groups: ["auroragpt", "physics"] },
  dave: { preferred_username: "dave", groups: [] },
};

/**
 * A real OpenID provider (the `oidc-provider` package) running in-process on an ephemeral
 * port: JWT access tokens signed with its own ES256 key and published at its JWKS, opaque
 * tokens behind RFC 7662 introspection, a groups claim. Not a mock: Switchyard talks to it
 * over HTTP exactly as it would to a centre's Keycloak.
 */
export async function startTestIdp(options: { ttlSeconds?: number } = {}): Promise<TestIdp> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: "idp-key-1", alg: "ES256", use: "sig" };
  const client = (id: string, grants: string[], secret = `${id}-secret`): ClientMetadata => ({
    client_id: id,
    client_secret: secret,
    grant_types: grants,
    redirect_uris: [],
    response_types: [],
    id_token_signed_response_alg: "ES256" as const,
  });
  const provider = new Provider(issuer, {
    clients: [
      client("carol", ["client_credentials"]),
      client("dave", ["client_credentials"]),
      // Switchyard's own client, used only to call introspection.
      client("switchyard", [], INTROSPECTION_SECRET),
    ],
    jwks: { keys: [jwk] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // No resource asked for: a plain opaque token without an audience, as providers hand out by default.
        defaultResource: () => undefined as unknown as string,
        getResourceServerInfo: (_ctx: unknown, resource: string) => ({
          scope: "api",
          audience: resource.endsWith("/other") ? "someone-else" : "switchyard",
          accessTokenTTL: options.ttlSeconds ?? 3600,
          accessTokenFormat: resource.endsWith("/opaque") ? "opaque" : "jwt",
          jwt: { sign: { alg: "ES256" } },
        }),
      },
    },
    extraTokenClaims: (_ctx: unknown, token: { clientId?: string }) => CLIENT_CLAIMS[token.clientId ?? ""] ?? {},
  });
  server.on("request", provider.callback());

  async function token(clientId: string, resource?: string): Promise<string> {
    const res = await fetch(`${issuer}/token`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${clientId}:${clientId}-secret`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ grant_type: "client_credentials", scope: "api", ...(resource ? { resource } : {}) }),
    });
    const body = (await res.json()) as { access_token?: string };
    if (!body.access_token) throw new Error(`IdP refused: ${JSON.stringify(body)}`);
    return body.access_token;
  }

  return {
    issuer,
    jwtToken: (c = "carol") => token(c, "https://switchyard.test/jwt"),
    opaqueToken: (c = "carol") => token(c, "https://switchyard.test/opaque"),
    foreignAudienceToken: () => token("carol", "https://switchyard.test/other"),
    audiencelessToken: (c = "carol") => token(c),
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
