export { Gateway, type GatewayOptions } from "./gateway";
export { type GatewayDeps, readBody, serveInference } from "./handler";
export { type ApiKind, KINDS, type KindSpec } from "./kinds";
export { estimateTokens, RateLimits } from "./limits";
export { GatewayMetrics } from "./metrics";
export { apiMarkdown, buildOpenApi } from "./openapi";
export { ModelResolver, type Target } from "./resolve";
export { StreamRelay, type TokenUsage, usageFromBuffer, usageFromJson } from "./sse";
export { type UsageRecord, UsageRecorder } from "./usage";
