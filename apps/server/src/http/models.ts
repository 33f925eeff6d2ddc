import { canUseModel, modelAccessProblem, type Principal, principalOf } from "@switchyard/auth";
import {
  type ModelList,
  type ModelObject,
  type ModelStatus,
  modelStatusOf,
  type ResolvedModel,
  sy,
} from "@switchyard/core";
import { type ModelRuntime, modelRuntimes } from "@switchyard/db";
import type { RouteTable } from "@switchyard/http";
import type { Router } from "express";
import type { AppContext } from "../context";

/** `meta-llama/Meta-Llama-3.1-8B-Instruct` -> `meta-llama`, as Hugging Face ids name their owner. */
function ownerOf(model: ResolvedModel): string {
  const slash = model.id.indexOf("/");
  return slash > 0 ? model.id.slice(0, slash) : (model.family ?? "switchyard");
}

function describe(model: ResolvedModel, runtime: ModelRuntime | undefined, nowMs: number): ModelObject {
  const deployments = runtime?.deployments ?? [];
  let status: ModelStatus = modelStatusOf(deployments.map((d) => d.state));
  let reason: string | null = null;
  let eta: number | null = null;
  if (runtime && runtime.clusterStatus !== "active") {
    status = "offline";
    const what = runtime.clusterStatus === "maintenance" ? "in maintenance" : "not available yet";
    reason = `cluster ${model.cluster} is ${what}${runtime.clusterStatusReason ? `: ${runtime.clusterStatusReason}` : ""}`;
  } else if (status === "starting") {
    const started = deployments.find((d) => d.state === "starting")?.startedAt?.getTime() ?? nowMs;
    eta = Math.max(0, Math.round(model.expectedLoadTime - (nowMs - started) / 1000));
  } else if (status === "queued") {
    eta = model.expectedLoadTime;
  } else if (status === "offline") {
    reason = deployments.find((d) => d.state === "failed")?.stateReason ?? null;
  }
  return {
    id: model.id,
    object: "model",
    created: Math.floor((runtime?.createdAt.getTime() ?? nowMs) / 1000),
    owned_by: ownerOf(model),
    status,
    capabilities: model.capabilities,
    cluster: model.cluster,
    framework: model.framework,
    engine: model.engine.type,
    placement: model.placement,
    max_model_len: model.contextLength ?? null,
    aliases: model.aliases,
    queue_position: null,
    eta_seconds: eta,
    status_reason: reason,
  };
}

/** The catalog the principal may use, in config order, with each model's status from the database. */
export async function listModels(ctx: AppContext, principal: Principal): Promise<ModelList> {
  const runtimes = await modelRuntimes(ctx.db.prisma);
  const now = ctx.clock.now();
  const clusters = new Map(ctx.config.clusters.map((c) => [c.name, c]));
  const data = ctx.config.models
    .filter((model) => {
      const cluster = clusters.get(model.cluster);
      return cluster !== undefined && canUseModel(principal, cluster, model);
    })
    .map((model) => describe(model, runtimes.get(`${model.cluster}/${model.id}`), now));
  return { object: "list", data };
}

export function registerModelRoutes(router: Router, routes: RouteTable, ctx: AppContext): void {
  routes.add(
    router,
    { method: "GET", path: "/v1/models", access: "user", summary: "List every model with its status" },
    async (_req, res) => {
      res.json(await listModels(ctx, principalOf(res)));
    },
  );
  routes.add(
    router,
    { method: "GET", path: "/v1/models/*id", access: "user", summary: "One model (ids contain '/') or alias" },
    async (req, res) => {
      const raw = (req.params as { id: string | string[] }).id;
      const id = Array.isArray(raw) ? raw.join("/") : raw;
      const model = ctx.config.models.find((m) => m.id === id || m.aliases.includes(id));
      const cluster = ctx.config.clusters.find((c) => c.name === model?.cluster);
      if (!model || !cluster) throw sy("model_not_found", { model: id });
      const problem = modelAccessProblem(principalOf(res), cluster, model);
      if (problem) throw problem;
      const runtimes = await modelRuntimes(ctx.db.prisma);
      res.json(describe(model, runtimes.get(`${model.cluster}/${model.id}`), ctx.clock.now()));
    },
  );
}
