/**
 * Errors of the OAuth endpoints (/auth/token, /auth/device/code, /auth/revoke) use RFC 6749's
 * shape, `{"error": "...", "error_description": "..."}`, which OAuth clients expect. Everything
 * else uses the OpenAI-shaped catalogue errors.
 */
export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unsupported_grant_type"
  | "invalid_scope"
  | "authorization_pending"
  | "slow_down"
  | "access_denied"
  | "expired_token"
  | "unsupported_token_type"
  // Extensions, sent with 429 and Retry-After: repeated wrong passwords; too many device logins from an address.
  | "too_many_attempts"
  | "too_many_requests";

export class OAuthError extends Error {
  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    readonly status = 400,
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
    this.name = "OAuthError";
  }

  body(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}
