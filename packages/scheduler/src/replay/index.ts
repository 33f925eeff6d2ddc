export { exportTrace } from "./export";
export { dailyCycle, GENERATE_DEFAULTS, type GenerateOptions, generateTrace } from "./generate";
export { percentile, type ReplayOptions, type ReplayResult, replay, replayCluster, serviceMs } from "./simulate";
