export * from "./gguf";
export { EngineLoadError, LlamaEngine } from "./server/engine";
export type { MetricsSnapshot } from "./server/metrics";
export {
  API_KEY_ENV,
  type LlamaServerFlags,
  type LlamaServerOptions,
  LlamaServerOptionsError,
  type LlamaServerOptionsInput,
  LlamaServerOptionsSchema,
  llamaServerOptionsFromFlags,
  parseLlamaServerOptions,
} from "./server/options";
export {
  defaultModelId,
  LlamaServerListenError,
  type LlamaServerRuntime,
  type RunningLlamaServer,
  startLlamaServer,
} from "./server/server";
