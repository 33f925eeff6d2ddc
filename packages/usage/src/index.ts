export { CachedCharges, type Charge, type ProjectRow, Projects, windowState } from "./projects";
export { type UsageRecord, UsageRecorder, type UsageRecorderOptions, type UsageSink } from "./recorder";
