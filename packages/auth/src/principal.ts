import type { RouteScope } from "@switchyard/http";

export type Role = "user" | "admin";

/** Who is calling, resolved once per credential (and cached). */
export interface Principal {
  userId: string;
  username: string;
  role: Role;
  groups: string[];
  /** How the caller proved who they are. */
  via: "access_token" | "api_key" | "oidc";
  /** API keys are limited to their scopes; tokens of a signed-in user carry all of them. */
  scopes: readonly RouteScope[] | "all";
  /** When the credential stops working (ms since epoch), if it does. */
  expiresAt: number | null;
  keyId?: string;
  /** The external issuer, for OIDC principals. */
  issuer?: string;
  /** The built-in token's id, so it can be revoked. */
  tokenId?: string;
}

export const ALL_SCOPES: readonly RouteScope[] = ["inference", "batch", "keys", "admin"];

export function hasScope(principal: Principal, scope: RouteScope | "any"): boolean {
  return scope === "any" || principal.scopes === "all" || principal.scopes.includes(scope);
}

/** An admin acting as one: the admin role, through a token or a key with the `admin` scope. */
export function actsAsAdmin(principal: Principal): boolean {
  return principal.role === "admin" && hasScope(principal, "admin");
}
