export { type AuditActor, type AuditRecord, listAudit, recordAudit } from "./audit";
export { type ApiContext, type ApiDeps, contextFor, contextFromCredentials } from "./context";
export { registerControlPlaneRoutes, TRPC_PREFIX } from "./http";
export { type AppRouter, appRouter, createCaller } from "./root";
export { type SwitchyardErrorData, toTRPCError } from "./trpc";
