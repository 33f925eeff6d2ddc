export {
  adapterFor,
  engineAdapters,
  expectedReadySeconds,
  externalAdapter,
  infinityAdapter,
  llamaCppAdapter,
  ollamaAdapter,
  SERVER_KEY_ENV,
  simulatorAdapter,
  upstreamAuthorization,
  vllmAdapter,
  vllmReasoningParser,
  vllmToolParser,
} from "./engines";
export {
  DEFAULT_MODEL_SERVER_ENV,
  inheritedEnvironment,
  isServiceVariable,
  modelServerEnvironment,
} from "./environment";
export { LLAMA_CPP_NODE_KEY_ENV, llamaCppNodeAdapter } from "./llama-cpp-node";
export {
  type CheckReadyOptions,
  checkReady,
  ReadinessTimeoutError,
  type ReadyResult,
  type WaitForReadyOptions,
  waitForReady,
} from "./readiness";
export type {
  EngineAdapter,
  EngineAdapterOptions,
  LaunchPlan,
  LaunchTarget,
  ReadinessCheck,
} from "./types";
