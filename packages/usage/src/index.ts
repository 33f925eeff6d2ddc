export { CachedCharges, type Charge, type ProjectRow, Projects, windowState } from "./projects";
export { type UsageRecord, UsageRecorder, type UsageRecorderOptions, type UsageSink } from "./recorder";
export {
  numberAfter,
  type TokenUsage,
  type UsageNames,
  usageFromBuffer,
  usageFromJson,
  usageNamesOf,
} from "./tokens";
