export {
  adapterFor,
  engineAdapters,
  expectedReadySeconds,
  externalAdapter,
  infinityAdapter,
  llamaCppAdapter,
  ollamaAdapter,
  simulatorAdapter,
  upstreamAuthorization,
  vllmAdapter,
  vllmReasoningParser,
  vllmToolParser,
} from "./engines";
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
