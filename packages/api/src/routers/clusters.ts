import { viewerOf } from "@switchyard/auth";
import {
  Catalog,
  type ClusterConfig,
  ClusterFilterSchema,
  type ClusterSummary,
  ClusterSummarySchema,
  NodeViewSchema,
  SetMaintenanceInputSchema,
} from "@switchyard/core";
import { jobsView } from "@switchyard/scheduler";
import { z } from "zod";
import type { ApiDeps } from "../context";
import { assertClusterAccess, audit, canUseCluster, iso } from "../helpers";
import { adminProcedure, protectedProcedure, router } from "../trpc";

const HOLDING = new Set(["queued", "starting", "live", "draining"]);

async function clusterSummaries(deps: ApiDeps, clusters: ClusterConfig[]): Promise<ClusterSummary[]> {
  const { config, scheduler, db } = deps;
  const rows = await db.prisma.cluster.findMany({
    where: { name: { in: clusters.map((c) => c.name) } },
    select: { name: true, maintenanceSince: true },
  });
  const since = new Map(rows.map((r) => [r.name, r.maintenanceSince]));
  const deployments = scheduler.deployments();
  return clusters.map((cluster) => {
    const problem = scheduler.clusterProblem(cluster);
    const models = config.models.filter((m) => m.cluster === cluster.name);
    return {
      name: cluster.name,
      displayName: cluster.displayName ?? cluster.name,
      status: cluster.status === "coming_soon" ? "coming_soon" : problem ? "maintenance" : "active",
      reason: problem ?? null,
      maintenanceSince: iso(since.get(cluster.name)),
      launcher: cluster.launcher.type,
      nodes: cluster.nodes.length,
      gpus: cluster.nodes.reduce((sum, n) => sum + n.gpus, 0),
      gpusUsed: deployments
        .filter((d) => d.cluster === cluster.name && d.nodeName && HOLDING.has(d.state))
        .reduce((sum, d) => sum + d.gpus, 0),
      models: models.length,
      liveModels: models.filter((m) => scheduler.availability(cluster.name, m.id).status === "live").length,
    };
  });
}

export const clustersRouter = router({
  /** Every cluster the caller may use, with its effective status and GPU use. */
  list: protectedProcedure.output(z.array(ClusterSummarySchema)).query(({ ctx }) =>
    clusterSummaries(
      ctx.deps,
      ctx.deps.config.clusters.filter((c) => canUseCluster(ctx.principal, c)),
    ),
  ),

  /** Open or close an operator's maintenance window: requests get 503 and nothing starts meanwhile. */
  setMaintenance: adminProcedure
    .input(SetMaintenanceInputSchema)
    .output(ClusterSummarySchema)
    .mutation(async ({ ctx, input }) => {
      const cluster = Catalog.of(ctx.deps.config).cluster(input.cluster);
      await ctx.deps.scheduler.setMaintenance(cluster.name, input.maintenance ? (input.reason ?? "") : null);
      await audit(
        ctx,
        "clusters.setMaintenance",
        { type: "cluster", id: cluster.name },
        {
          maintenance: input.maintenance,
          ...(input.reason ? { reason: input.reason } : {}),
        },
      );
      const [summary] = await clusterSummaries(ctx.deps, [cluster]);
      return summary!;
    }),
});

export const nodesRouter = router({
  /** The nodes of one cluster (or all the caller may use): GPUs used and free, which deployment sits where. */
  list: protectedProcedure
    .input(ClusterFilterSchema)
    .output(z.array(NodeViewSchema))
    .query(({ ctx, input }) => {
      const { config, scheduler } = ctx.deps;
      let clusters = config.clusters.filter((c) => canUseCluster(ctx.principal, c));
      if (input.cluster) {
        const cluster = Catalog.of(config).cluster(input.cluster);
        assertClusterAccess(ctx.principal, cluster);
        clusters = [cluster];
      }
      // The same view as GET /resource_server/{cluster}/jobs, so the two never disagree.
      return clusters.flatMap((cluster) =>
        jobsView(scheduler, cluster, viewerOf(ctx.principal)).nodes.map((node) => ({
          cluster: cluster.name,
          name: node.name,
          role: node.role,
          gpus: node.gpus,
          gpusUsed: node.gpus - node.gpus_free,
          gpusFree: node.gpus_free,
          deployments: node.deployments.map((d) => ({
            deploymentId: d.job_id,
            model: d.model,
            state: d.state,
            gpus: d.gpus,
          })),
        })),
      );
    }),
});
