export {
  adapterFor,
  engineAdapters,
  externalAdapter,
  infinityAdapter,
  llamaCppAdapter,
  ollamaAdapter,
  simulatorAdapter,
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
