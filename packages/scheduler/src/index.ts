export type { JobObservation, LaunchedJob, Launcher, LaunchRequest } from "./launcher";
export { freePort, isOurProcess, LocalLauncher } from "./launchers/local";
export { JOB_PREFIX, SlurmError, SlurmLauncher } from "./launchers/slurm";
export * from "./placement";
export { findCluster, findFramework, registerSchedulerRoutes, type SchedulerRouteDeps } from "./routes";
export {
  type Availability,
  type DeploymentEvent,
  LEADER_LOCK_KEY,
  modelKey,
  Scheduler,
  type SchedulerDeps,
} from "./scheduler";
export type { DeploymentRecord } from "./store";
export { type JobsViewer, jobsView, jobsViewerOf, listEndpoints, modelObject, visibleModels } from "./views";
