export { BatchRun } from "./batch-run";
export type { BatchUsage, RunnerDeps } from "./resources";
