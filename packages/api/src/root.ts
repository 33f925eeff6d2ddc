import { auditRouter } from "./routers/audit";
import { batchesRouter } from "./routers/batches";
import { clustersRouter, nodesRouter } from "./routers/clusters";
import { deploymentsRouter, jobsRouter } from "./routers/deployments";
import { eventsRouter } from "./routers/events";
import { keysRouter } from "./routers/keys";
import { modelsRouter } from "./routers/models";
import { projectsRouter } from "./routers/projects";
import { deviceRouter, sessionRouter } from "./routers/session";
import { usageRouter } from "./routers/usage";
import { groupsRouter, usersRouter } from "./routers/users";
import { createCallerFactory, router } from "./trpc";

/** The control plane: one router per domain, procedures named by verb (`deployments.stop`). */
export const appRouter = router({
  session: sessionRouter,
  device: deviceRouter,
  clusters: clustersRouter,
  nodes: nodesRouter,
  models: modelsRouter,
  deployments: deploymentsRouter,
  jobs: jobsRouter,
  users: usersRouter,
  groups: groupsRouter,
  keys: keysRouter,
  usage: usageRouter,
  projects: projectsRouter,
  batches: batchesRouter,
  audit: auditRouter,
  events: eventsRouter,
});

export type AppRouter = typeof appRouter;

/** Call procedures in-process with a given context (tests, and server-side callers). */
export const createCaller = createCallerFactory(appRouter);
