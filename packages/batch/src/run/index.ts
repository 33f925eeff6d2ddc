export { BatchRun } from "./batch-run";
export type { RunnerDeps } from "./resources";
