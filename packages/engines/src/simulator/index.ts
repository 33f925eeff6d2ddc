export { SYSTEM_FINGERPRINT } from "./answer";
export { openAIErrorType } from "./errors";
export type { ChoicePlan, FinishReason } from "./generate";
export type { SimulatorHostEvent, SimulatorHostRequest } from "./host-protocol";
export type { SimulatorMetricsSnapshot } from "./metrics";
export {
  parseSimulatorOptions,
  type SimulatorFlags,
  type SimulatorOptions,
  SimulatorOptionsError,
  type SimulatorOptionsInput,
  SimulatorOptionsSchema,
  simulatorOptionsFromFlags,
} from "./options";
export { embeddingVector } from "./routes/embeddings";
export {
  CRASH_EXIT_CODE,
  type RunningSimulator,
  SimulatorListenError,
  type SimulatorRuntime,
  startSimulator,
} from "./server";
export { countTokens, PROMPT_COSTS, tokenize } from "./tokenizer";
