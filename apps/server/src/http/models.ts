import {
  type ModelList,
  type ModelObject,
  type ModelStatus,
  modelStatusOf,
  type ResolvedModel,
  sy,
} from "@switchyard/core";
import { type ModelRuntime, modelRuntimes } from "@switchyard/db";
import type { Router } from "express";
import type { AppContext } from "../context";
import type { RouteTable } from "./routes";

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

/** The whole catalog, in config order, with each model's status read from the database. */
export async function listModels(ctx: AppContext): Promise<ModelList> {
  const runtimes = await modelRuntimes(ctx.db.prisma);
  const now = ctx.clock.now();
  const data = ctx.config.models.map((model) => describe(model, runtimes.get(`${model.cluster}/${model.id}`), now));
  const counts: Record<ModelStatus, number> = { live: 0, starting: 0, queued: 0, offline: 0 };
  for (const entry of data) counts[entry.status]++;
  for (const [status, count] of Object.entries(counts)) ctx.metrics.modelsByStatus.set({ status }, count);
  return { object: "list", data };
}

export function registerModelRoutes(router: Router, routes: RouteTable, ctx: AppContext): void {
  routes.add(
    router,
    { method: "GET", path: "/v1/models", access: "user", summary: "List every model with its status" },
    async (_req, res) => {
      res.json(await listModels(ctx));
    },
  );
  routes.add(
    router,
    { method: "GET", path: "/v1/models/*id", access: "user", summary: "One model (ids contain '/') or alias" },
    async (req, res) => {
      const raw = (req.params as { id: string | string[] }).id;
      const id = Array.isArray(raw) ? raw.join("/") : raw;
      const list = await listModels(ctx);
      const found = list.data.find((m) => m.id === id || m.aliases.includes(id));
      if (!found) throw sy("model_not_found", { model: id });
      res.json(found);
    },
  );
}
