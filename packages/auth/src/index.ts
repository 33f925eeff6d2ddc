export * from "./api-keys";
export { type AuditActor, type AuditRecord, recordAudit, recordAuditMany } from "./audit";
export type { CleanupReport } from "./cleanup";
export { isGatewayWorker, servePrimarySharedState } from "./cluster";
export { AUDIENCE, CredentialResolver, credentialFrom, provisionExternalUser } from "./credentials";
export { hashPassword, normalizeUserCode, verifyPassword } from "./crypto";
export type { DeviceCodeResponse } from "./device-flow";
export { accessGuard, admit, assertActsAsAdmin, principalOf } from "./guard";
export { DEVICE_PAGE_STYLE_SOURCE } from "./http/device-page";
export { registerAuthRoutes } from "./http/routes";
export { ISSUER_SETTING, sharedIssuer } from "./issuer";
export { OAuthError } from "./oauth-error";
export * from "./policy";
export { ALL_SCOPES, actsAsAdmin, hasScope, type Principal, type Role } from "./principal";
export {
  REDIS_COMMAND_TIMEOUT_MS,
  RedisLink,
  type RedisUse,
  redisClientOptions,
  sharedLimiter,
} from "./redis-link";
export { type AuthDeps, AuthService, DEFAULT_CLIENT_ID, type TokenResponse } from "./service";
export * from "./users";
