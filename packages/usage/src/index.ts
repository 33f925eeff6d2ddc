export { CachedCharges, type Charge, type ProjectRow, Projects, windowState } from "./projects";
export {
  USAGE_COLUMNS,
  type UsageRecord,
  UsageRecorder,
  type UsageRecorderOptions,
  type UsageSink,
} from "./recorder";
export {
  numberAfter,
  type TokenUsage,
  type UsageNames,
  usageFromBuffer,
  usageFromJson,
  usageFromObject,
  usageNamesOf,
} from "./tokens";
