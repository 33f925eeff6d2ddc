import { modelAccessProblem, type Principal, principalOf, viewerOf } from "@switchyard/auth";
import { apiError, Catalog, ModelDetailsQuerySchema, type SwitchyardConfig } from "@switchyard/core";
import type { Database } from "@switchyard/db";
import type { RouteTable } from "@switchyard/http";
import {
  clusterStatusMap,
  listEndpoints,
  modelDetails,
  modelObject,
  resourceJobsView,
  type Scheduler,
  visibleModels,
} from "@switchyard/scheduler";
import type { Router } from "express";
import { answers, SCHEMAS } from "./schemas";

export interface ModelRouteDeps {
  config: SwitchyardConfig;
  scheduler: Scheduler;
  db: Database;
}

/** Model rows' creation times (OpenAI's `created`), loaded once. */
async function createdTimes(db: Database): Promise<Map<string, number>> {
  const rows = await db.prisma.model.findMany({ select: { clusterName: true, name: true, createdAt: true } });
  return new Map(rows.map((r) => [`${r.clusterName}/${r.name}`, Math.floor(r.createdAt.getTime() / 1000)]));
}

/**
 * A cluster the principal may use, by the cluster's group policy (as for its models): a user
 * outside it learns nothing of its jobs or models.
 */
function usableCluster(config: SwitchyardConfig, name: string, principal: Principal) {
  const cluster = Catalog.of(config).cluster(name);
  const problem = modelAccessProblem(principal, cluster, { id: "", allowedGroups: [] });
  if (problem) throw problem;
  return { cluster, principal };
}

/**
 * The model list, one model, the jobs view and the endpoint list: the scheduler's state as each
 * caller may see it (the views filter by the caller's group policies).
 */
export function registerModelRoutes(router: Router, routes: RouteTable, deps: ModelRouteDeps): void {
  const { config, scheduler } = deps;
  const catalog = Catalog.of(config);
  let created: Promise<Map<string, number>> | undefined;
  const createdOf = async (cluster: string, id: string) => {
    created ??= createdTimes(deps.db);
    return (await created).get(`${cluster}/${id}`) ?? 0;
  };
  /** OpenAI's model list of these models. */
  const modelList = async (models: ReturnType<typeof visibleModels>) => ({
    object: "list" as const,
    data: await Promise.all(models.map(async (m) => modelObject(scheduler, m, await createdOf(m.cluster, m.id)))),
  });

  // The reference gateway's routes; registered before `/resource_server/:cluster/...` so that
  // `status`, `whoami` and `list-endpoints` are never taken for cluster names.
  routes.add(
    router,
    {
      method: "GET",
      path: "/resource_server/status",
      access: "public",
      summary: "Which clusters open to every user are up (no credentials needed)",
      response: answers(SCHEMAS.ClusterStatusMap),
    },
    (_req, res) => {
      res.json(clusterStatusMap(config, scheduler));
    },
  );
  routes.add(
    router,
    {
      method: "GET",
      path: "/resource_server/whoami",
      access: "user",
      scope: "any",
      summary: "Who am I, in the reference gateway's shape",
      response: answers(SCHEMAS.Whoami),
    },
    (_req, res) => {
      const p = principalOf(res);
      res.json({
        id: p.userId,
        name: p.username,
        username: p.username,
        user_group_uuids: p.groups,
        idp_id: p.issuer ?? "switchyard",
        idp_name: p.issuer ?? "Switchyard",
        auth_service: p.via,
        role: p.role,
      });
    },
  );
  routes.add(
    router,
    {
      method: "GET",
      path: "/v1/models",
      access: "user",
      summary: "Every model you may use, with its status and replicas (live, starting, queued, draining; min and max)",
      response: answers(SCHEMAS.ModelList, "Every model you may use."),
    },
    async (_req, res) => {
      res.json(await modelList(visibleModels(config, viewerOf(principalOf(res)))));
    },
  );
  routes.add(
    router,
    {
      method: "GET",
      path: "/v1/models/*id",
      access: "user",
      summary: "One model (ids contain '/') or alias",
      response: answers(SCHEMAS.Model, "One model."),
      errors: ["model_not_found", "model_access_denied"],
    },
    async (req, res) => {
      const raw = (req.params as { id: string | string[] }).id;
      const id = Array.isArray(raw) ? raw.join("/") : raw;
      const { cluster, model } = catalog.anyModel(id);
      const problem = modelAccessProblem(principalOf(res), cluster, model);
      if (problem) throw problem;
      res.json(modelObject(scheduler, model, await createdOf(model.cluster, model.id)));
    },
  );
  routes.add(
    router,
    {
      method: "GET",
      path: "/resource_server/:cluster/:framework/v1/models",
      access: "user",
      summary: "Models of one cluster and framework",
      response: answers(SCHEMAS.ModelList, "The models of that cluster and framework you may use."),
    },
    async (req, res) => {
      const { cluster } = catalog.framework(String(req.params.cluster), String(req.params.framework));
      const framework = String(req.params.framework);
      res.json(await modelList(visibleModels(config, viewerOf(principalOf(res)), cluster.name, framework)));
    },
  );
  routes.add(
    router,
    {
      method: "GET",
      path: "/resource_server/list-endpoints",
      access: "user",
      summary: "Clusters, frameworks, models and endpoint paths",
      response: answers(SCHEMAS.EndpointList),
    },
    (_req, res) => {
      res.json(listEndpoints(config, scheduler, viewerOf(principalOf(res))));
    },
  );
  routes.add(
    router,
    {
      method: "GET",
      path: "/resource_server/:cluster/jobs",
      access: "user",
      summary:
        "What runs, waits and failed on a cluster; each job says which replica of its model it is (from 1) of how many",
      response: answers(SCHEMAS.ResourceJobsView),
      errors: ["cluster_access_denied"],
    },
    (req, res) => {
      const { cluster, principal } = usableCluster(config, String(req.params.cluster), principalOf(res));
      res.json(resourceJobsView(config, scheduler, cluster, viewerOf(principal)));
    },
  );
  routes.add(
    router,
    {
      method: "GET",
      path: "/resource_server/:cluster/models",
      access: "user",
      summary: "The models of a cluster you may use, with their capabilities and limits (?model_id= for one)",
      query: ModelDetailsQuerySchema,
      response: answers(SCHEMAS.ModelDetailsList),
      errors: ["cluster_access_denied", "model_not_found"],
    },
    (req, res, { query }) => {
      const { cluster, principal } = usableCluster(config, String(req.params.cluster), principalOf(res));
      const viewer = viewerOf(principal);
      const models = visibleModels(config, viewer, cluster.name).sort((a, b) => {
        const x = a.id.toLowerCase();
        const y = b.id.toLowerCase();
        return x < y ? -1 : x > y ? 1 : 0;
      });
      const id = query.model_id;
      if (id !== undefined) {
        // A model the caller may not use is as absent as one that does not exist.
        const model = models.find((m) => m.id === id);
        if (!model) throw apiError("model_not_found", { model: id });
        res.json([modelDetails(config, model, viewer)]);
        return;
      }
      res.json(models.map((m) => modelDetails(config, m, viewer)));
    },
  );
}
