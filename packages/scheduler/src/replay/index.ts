export { exportTrace } from "./export";
export { dailyCycle, GENERATE_DEFAULTS, type GenerateOptions, generateTrace } from "./generate";
export { SeededRandom } from "./random";
export { percentile, type ReplayOptions, type ReplayResult, replay, replayCluster, serviceMs } from "./simulate";
