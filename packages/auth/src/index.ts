export * from "./api-keys";
export type { CleanupReport } from "./cleanup";
export { hashPassword, normalizeUserCode, verifyPassword } from "./crypto";
export type { DeviceCodeResponse } from "./device-flow";
export { accessGuard, admit, assertActsAsAdmin, principalOf } from "./guard";
export { DEVICE_PAGE_STYLE_SOURCE } from "./http/device-page";
export { registerAuthRoutes } from "./http/routes";
export { OAuthError } from "./oauth-error";
export * from "./policy";
export { ALL_SCOPES, actsAsAdmin, hasScope, type Principal, type Role } from "./principal";
export {
  AUDIENCE,
  type AuthDeps,
  AuthService,
  credentialFrom,
  DEFAULT_CLIENT_ID,
  provisionExternalUser,
  type TokenResponse,
} from "./service";
export * from "./users";
