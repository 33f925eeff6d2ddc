import { viewerOf } from "@switchyard/auth";
import {
  AvailabilitySchema,
  type AvailabilityView,
  apiError,
  Catalog,
  type ClusterConfig,
  DeploymentIdInputSchema,
  type DeploymentSummary,
  DeploymentSummarySchema,
  DeploymentsListInputSchema,
  JobsInputSchema,
  JobsViewSchema,
  ModelRefSchema,
  type ResolvedModel,
} from "@switchyard/core";
import type { DeploymentRecord } from "@switchyard/scheduler";
import { jobsView } from "@switchyard/scheduler";
import { z } from "zod";
import type { ApiDeps } from "../context";
import { assertClusterAccess, audit, iso } from "../helpers";
import { adminProcedure, protectedProcedure, router } from "../trpc";

const STATE_ORDER = ["live", "starting", "queued", "draining", "failed", "offline"];

function deploymentSummary(deps: ApiDeps, record: DeploymentRecord): DeploymentSummary {
  const model = deps.scheduler.modelOf(record);
  return {
    id: record.id,
    cluster: record.cluster,
    model: model?.id ?? null,
    node: record.nodeName,
    state: record.state,
    reason: record.stateReason,
    launcher: record.launcher,
    launcherJobId: record.jobId,
    address: record.host && record.port ? `${record.host}:${record.port}` : null,
    gpus: record.gpus,
    inFlight: deps.scheduler.inflightOf(record.id),
    pinned: model ? deps.scheduler.isPinned(record.cluster, model.id) : false,
    queuedAt: iso(record.queuedAt),
    startedAt: iso(record.startedAt),
    liveAt: iso(record.liveAt),
    drainingAt: iso(record.drainingAt),
    createdAt: record.createdAt.toISOString(),
  };
}

function availabilityView(deps: ApiDeps, cluster: string, model: string): AvailabilityView {
  const a = deps.scheduler.availability(cluster, model);
  return {
    cluster: a.cluster,
    model: a.model,
    status: a.status,
    deploymentId: a.deploymentId,
    queuePosition: a.queuePosition,
    etaSeconds: a.etaSeconds,
    reason: a.reason,
  };
}

/** How the audit log names a model: `cluster/model`. */
const modelTarget = (cluster: ClusterConfig, model: ResolvedModel) => ({
  type: "model",
  id: `${cluster.name}/${model.id}`,
});

/** Starting anything on a cluster in maintenance (or not yet open) is the catalogue's 503. */
function assertClusterUp(deps: ApiDeps, cluster: ClusterConfig): void {
  const problem = deps.scheduler.clusterProblem(cluster);
  if (problem) throw apiError("cluster_unavailable", { cluster: cluster.name, reason: problem });
}

export const deploymentsRouter = router({
  /** Every deployment the scheduler knows now (active ones and failures of the last hour). */
  list: adminProcedure
    .input(DeploymentsListInputSchema)
    .output(z.array(DeploymentSummarySchema))
    .query(({ ctx, input }) => {
      if (input.cluster) Catalog.of(ctx.deps.config).cluster(input.cluster);
      return ctx.deps.scheduler
        .deployments()
        .filter((d) => (!input.cluster || d.cluster === input.cluster) && (!input.state || d.state === input.state))
        .sort(
          (a, b) =>
            a.cluster.localeCompare(b.cluster) ||
            STATE_ORDER.indexOf(a.state) - STATE_ORDER.indexOf(b.state) ||
            a.createdAt.getTime() - b.createdAt.getTime(),
        )
        .map((d) => deploymentSummary(ctx.deps, d));
    }),

  /** Start a model now, as a request for it would: its status, queue position and ETA. */
  start: adminProcedure
    .input(ModelRefSchema)
    .output(AvailabilitySchema)
    .mutation(async ({ ctx, input }) => {
      const { cluster, model } = Catalog.of(ctx.deps.config).model(input.cluster, input.model);
      assertClusterUp(ctx.deps, cluster);
      await ctx.deps.scheduler.startModel(cluster.name, model.id);
      const result = availabilityView(ctx.deps, cluster.name, model.id);
      await audit(ctx, "deployments.start", modelTarget(cluster, model), {
        status: result.status,
        deploymentId: result.deploymentId,
      });
      return result;
    }),

  /** Drain and stop the model's deployment (in-flight requests finish first). */
  stop: adminProcedure
    .input(ModelRefSchema)
    .output(z.object({ stopped: z.boolean(), availability: AvailabilitySchema }))
    .mutation(async ({ ctx, input }) => {
      const { cluster, model } = Catalog.of(ctx.deps.config).model(input.cluster, input.model);
      const stopped = await ctx.deps.scheduler.stopModel(
        cluster.name,
        model.id,
        `stopped by ${ctx.principal.username}`,
      );
      await audit(ctx, "deployments.stop", modelTarget(cluster, model), { stopped });
      return { stopped, availability: availabilityView(ctx.deps, cluster.name, model.id) };
    }),

  /**
   * Stop the model's deployment and start a fresh one once it is gone. Answers at once: the
   * restart goes on in the background and its steps arrive on the events subscription.
   */
  restart: adminProcedure
    .input(ModelRefSchema)
    .output(AvailabilitySchema)
    .mutation(async ({ ctx, input }) => {
      const { cluster, model } = Catalog.of(ctx.deps.config).model(input.cluster, input.model);
      assertClusterUp(ctx.deps, cluster);
      const before = availabilityView(ctx.deps, cluster.name, model.id);
      void ctx.deps.scheduler
        .restartModel(cluster.name, model.id, `restarted by ${ctx.principal.username}`)
        .catch((error) => ctx.deps.logger.error({ err: error, model: model.id }, "control plane: restart failed"));
      await audit(ctx, "deployments.restart", modelTarget(cluster, model), {
        from: before.status,
        deploymentId: before.deploymentId,
      });
      return before;
    }),

  /** Keep a model loaded: no idle stop, no eviction, no lifetime limit. */
  pin: adminProcedure
    .input(ModelRefSchema)
    .output(z.object({ cluster: z.string(), model: z.string(), pinned: z.boolean() }))
    .mutation(async ({ ctx, input }) => {
      const { cluster, model } = Catalog.of(ctx.deps.config).model(input.cluster, input.model);
      await ctx.deps.scheduler.setPinned(cluster.name, model.id, true);
      await audit(ctx, "deployments.pin", modelTarget(cluster, model));
      return { cluster: cluster.name, model: model.id, pinned: true };
    }),

  /** Let a pinned model go again (idle TTL, eviction and lifetime apply). */
  unpin: adminProcedure
    .input(ModelRefSchema)
    .output(z.object({ cluster: z.string(), model: z.string(), pinned: z.boolean() }))
    .mutation(async ({ ctx, input }) => {
      const { cluster, model } = Catalog.of(ctx.deps.config).model(input.cluster, input.model);
      await ctx.deps.scheduler.setPinned(cluster.name, model.id, false);
      await audit(ctx, "deployments.unpin", modelTarget(cluster, model));
      return { cluster: cluster.name, model: model.id, pinned: false };
    }),

  /** Drain one deployment: no new requests, in-flight ones finish, then it stops. Idempotent. */
  drain: adminProcedure
    .input(DeploymentIdInputSchema)
    .output(DeploymentSummarySchema)
    .mutation(async ({ ctx, input }) => {
      const known = ctx.deps.scheduler.deployments().some((d) => d.id === input.deploymentId);
      if (!known) {
        const row = await ctx.deps.db.prisma.deployment.findUnique({ where: { id: input.deploymentId } });
        if (!row) throw apiError("resource_not_found", { kind: "deployment", id: input.deploymentId });
      }
      await ctx.deps.scheduler.drain(input.deploymentId, `drained by ${ctx.principal.username}`);
      await ctx.deps.scheduler.reload();
      const record = ctx.deps.scheduler.deployments().find((d) => d.id === input.deploymentId);
      await audit(
        ctx,
        "deployments.drain",
        { type: "deployment", id: input.deploymentId },
        {
          state: record?.state ?? "offline",
        },
      );
      if (record) return deploymentSummary(ctx.deps, record);
      const row = await ctx.deps.db.prisma.deployment.findUniqueOrThrow({
        where: { id: input.deploymentId },
        include: { node: { select: { name: true } } },
      });
      return deploymentSummary(ctx.deps, { ...row, cluster: row.clusterName, nodeName: row.node?.name ?? null });
    }),
});

export const jobsRouter = router({
  /** What runs, waits and failed on a cluster: the same view as GET /resource_server/{cluster}/jobs. */
  list: protectedProcedure
    .input(JobsInputSchema)
    .output(JobsViewSchema)
    .query(({ ctx, input }) => {
      const cluster = Catalog.of(ctx.deps.config).cluster(input.cluster);
      assertClusterAccess(ctx.principal, cluster);
      const view = jobsView(ctx.deps.scheduler, cluster, viewerOf(ctx.principal));
      return { ...view, status: view.status === "active" ? ("active" as const) : ("unavailable" as const) };
    }),
});
