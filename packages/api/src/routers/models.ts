import { modelAccessProblem, type Principal, viewerOf } from "@switchyard/auth";
import {
  CAPABILITY_MARKS,
  Catalog,
  ModelHistoryInputSchema,
  type ModelSummary,
  ModelSummarySchema,
  ModelsListInputSchema,
  type ResolvedModel,
  TransitionSchema,
} from "@switchyard/core";
import { replicaCounts, visibleModels } from "@switchyard/scheduler";
import { z } from "zod";
import type { ApiDeps } from "../context";
import { protectedProcedure, router } from "../trpc";

/** The dashboard's row for a model: catalog facts plus what the scheduler says now. */
export function modelSummary(deps: ApiDeps, model: ResolvedModel): ModelSummary {
  const { scheduler } = deps;
  const availability = scheduler.availability(model.cluster, model.id);
  const deployment = availability.deploymentId
    ? scheduler.deployments().find((d) => d.id === availability.deploymentId)
    : undefined;
  return {
    id: model.id,
    cluster: model.cluster,
    framework: model.framework,
    family: model.family ?? null,
    capabilities: model.capabilities,
    marks: model.capabilities.map((c) => CAPABILITY_MARKS[c] ?? "").join(""),
    placement: model.placement,
    engine: model.engine.type,
    gpus: model.gpus,
    contextLength: model.contextLength ?? null,
    aliases: model.aliases,
    allowedGroups: model.allowedGroups,
    status: availability.status,
    queuePosition: availability.queuePosition,
    etaSeconds: availability.etaSeconds,
    reason: availability.reason,
    pinned: scheduler.isPinned(model.cluster, model.id),
    deploymentId: availability.deploymentId,
    node: deployment?.nodeName ?? null,
    replicas: replicaCounts(scheduler, model),
  };
}

function assertModelAccess(principal: Principal, deps: ApiDeps, clusterName: string, id: string) {
  const found = Catalog.of(deps.config).model(clusterName, id);
  const problem = modelAccessProblem(principal, found.cluster, found.model);
  if (problem) throw problem;
  return found;
}

export const modelsRouter = router({
  /** The models the caller may use (admins: all), filtered by status: Live, Starting, Queued, Offline or all. */
  list: protectedProcedure
    .input(ModelsListInputSchema)
    .output(z.array(ModelSummarySchema))
    .query(({ ctx, input }) => {
      const models = visibleModels(ctx.deps.config, viewerOf(ctx.principal), input.cluster).map((m) =>
        modelSummary(ctx.deps, m),
      );
      return input.status === "all" ? models : models.filter((m) => m.status === input.status);
    }),

  /** A model's state transitions across its deployments, newest first. */
  history: protectedProcedure
    .input(ModelHistoryInputSchema)
    .output(z.array(TransitionSchema))
    .query(async ({ ctx, input }) => {
      const { model } = assertModelAccess(ctx.principal, ctx.deps, input.cluster, input.model);
      const rows = await ctx.deps.db.prisma.deploymentTransition.findMany({
        where: { deployment: { model: { clusterName: model.cluster, name: model.id } } },
        orderBy: { id: "desc" },
        take: input.limit,
      });
      return rows.map((row) => ({
        deploymentId: row.deploymentId,
        from: row.fromState,
        to: row.toState,
        cause: row.cause,
        at: row.at.toISOString(),
      }));
    }),
});
