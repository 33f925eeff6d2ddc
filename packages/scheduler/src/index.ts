export { type ModelEntry, modelKey } from "./catalog-index";
export type { DeploymentEvent } from "./events";
export type { JobObservation, LaunchedJob, Launcher, LauncherCapabilities, LaunchRequest } from "./launcher";
export { freePort, isOurProcess, LocalLauncher } from "./launchers/local";
export { JOB_PREFIX, SlurmError, SlurmLauncher } from "./launchers/slurm";
export { LEADER_LOCK_KEY } from "./leadership";
export * from "./placement";
export * from "./policies";
export * from "./replay";
export type { ColdStart, ColdStartRequester, SchedulerDeps } from "./resources";
export type { Replica } from "./routing/acquire";
export type { Availability } from "./routing/availability";
export type { ReplicaFailure } from "./routing/faults";
export { Scheduler } from "./scheduler";
export type { DeploymentRecord } from "./store";
export {
  clusterStatusMap,
  type JobsViewer,
  jobsView,
  listEndpoints,
  modelDetails,
  modelObject,
  replicaCounts,
  resourceJobsView,
  type Viewer,
  visibleModels,
} from "./views";
