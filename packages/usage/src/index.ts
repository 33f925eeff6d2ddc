export { type UsageRecord, UsageRecorder, type UsageRecorderOptions, type UsageSink } from "./recorder";
