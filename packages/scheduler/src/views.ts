import { actsAsAdmin, canUseModel, type Principal } from "@switchyard/auth";
import {
  type ClusterConfig,
  type Endpoint,
  isUnfinishedDeployment,
  type ModelObject,
  type ResolvedModel,
  type SwitchyardConfig,
} from "@switchyard/core";
import type { Scheduler } from "./scheduler";
import type { DeploymentRecord } from "./store";

/** `meta-llama/Meta-Llama-3.1-8B-Instruct` -> `meta-llama`, as Hugging Face ids name their owner. */
function ownerOf(model: ResolvedModel): string {
  const slash = model.id.indexOf("/");
  return slash > 0 ? model.id.slice(0, slash) : (model.family ?? "switchyard");
}

/** One `/v1/models` entry: OpenAI's model object plus status, queue position and ETA. */
export function modelObject(scheduler: Scheduler, model: ResolvedModel, created: number): ModelObject {
  const availability = scheduler.availability(model.cluster, model.id);
  return {
    id: model.id,
    object: "model",
    created,
    owned_by: ownerOf(model),
    status: availability.status,
    capabilities: model.capabilities,
    cluster: model.cluster,
    framework: model.framework,
    engine: model.engine.type,
    placement: model.placement,
    max_model_len: model.contextLength ?? null,
    aliases: model.aliases,
    queue_position: availability.queuePosition,
    eta_seconds: availability.etaSeconds,
    status_reason: availability.reason,
  };
}

/** The jobs view a principal gets: addresses only for an admin acting as one. */
export function jobsViewerOf(principal: Principal): JobsViewer {
  return { addresses: actsAsAdmin(principal), mayUse: (cluster, model) => canUseModel(principal, cluster, model) };
}

export function visibleModels(
  config: SwitchyardConfig,
  principal: Principal,
  cluster?: string,
  framework?: string,
): ResolvedModel[] {
  const clusters = new Map(config.clusters.map((c) => [c.name, c]));
  return config.models.filter((model) => {
    const c = clusters.get(model.cluster);
    if (!c || (cluster && model.cluster !== cluster) || (framework && model.framework !== framework)) return false;
    return canUseModel(principal, c, model);
  });
}

const ENDPOINT_KEYS: Record<Endpoint, string> = {
  "chat/completions": "chat",
  completions: "completion",
  embeddings: "embedding",
  responses: "responses",
  messages: "messages",
  batches: "batch",
};

/** `GET /resource_server/list-endpoints`: every cluster, its frameworks, their models and endpoint paths. */
export function listEndpoints(config: SwitchyardConfig, scheduler: Scheduler, principal: Principal) {
  const clusters: Record<string, unknown> = {};
  for (const cluster of config.clusters) {
    const frameworks: Record<string, unknown> = {};
    for (const framework of cluster.frameworks) {
      const base = `/resource_server/${cluster.name}/${framework.name}/v1`;
      frameworks[framework.name] = {
        models: visibleModels(config, principal, cluster.name, framework.name).map((m) => m.id),
        endpoints: Object.fromEntries(
          framework.endpoints.map((endpoint) => [
            ENDPOINT_KEYS[endpoint],
            endpoint === "batches" ? `/resource_server/v1/batches` : `${base}/${endpoint}`,
          ]),
        ),
      };
    }
    clusters[cluster.name] = {
      base_url: `/resource_server/${cluster.name}`,
      display_name: cluster.displayName ?? cluster.name,
      status: scheduler.clusterProblem(cluster)
        ? cluster.status === "coming_soon"
          ? "coming_soon"
          : "maintenance"
        : "active",
      status_reason: scheduler.clusterProblem(cluster) ?? null,
      frameworks,
    };
  }
  return { clusters };
}

/** What a jobs view may show: a model server's address is for admins only. */
export interface JobsViewer {
  addresses: boolean;
  /**
   * Whether the viewer may use a model (its `allowedGroups`): the jobs of models they may not
   * use show their GPUs and state but not the model, its framework or its failure reason.
   * Absent: every model is shown (internal callers).
   */
  mayUse?: (cluster: ClusterConfig, model: ResolvedModel) => boolean;
}

/** The model of a deployment as the viewer may see it (undefined when unknown or not theirs to see). */
function shownModel(scheduler: Scheduler, cluster: ClusterConfig, record: DeploymentRecord, viewer: JobsViewer) {
  const model = scheduler.modelOf(record);
  return model && (viewer.mayUse?.(cluster, model) ?? true) ? model : undefined;
}

function jobEntry(scheduler: Scheduler, cluster: ClusterConfig, record: DeploymentRecord, viewer: JobsViewer) {
  const model = shownModel(scheduler, cluster, record, viewer);
  const hidden = !model && scheduler.modelOf(record) !== undefined;
  const availability = model ? scheduler.availability(record.cluster, model.id) : undefined;
  return {
    job_id: record.id,
    models: model ? [model.id] : [],
    framework: model?.framework ?? null,
    state: record.state,
    model_status:
      record.state === "live"
        ? "live"
        : record.state === "starting"
          ? "starting"
          : record.state === "queued"
            ? "queued"
            : record.state,
    node: record.nodeName,
    host: viewer.addresses && record.host && record.port ? `${record.host}:${record.port}` : null,
    gpus: record.gpus,
    launcher: record.launcher,
    launcher_job_id: record.jobId,
    start_time: (record.startedAt ?? record.queuedAt ?? record.createdAt).toISOString(),
    live_since: record.liveAt?.toISOString() ?? null,
    reason: hidden ? null : record.stateReason,
    in_flight: scheduler.inflightOf(record.id),
    ...(record.state === "queued" && availability?.deploymentId === record.id
      ? { queue_position: availability.queuePosition, eta_seconds: availability.etaSeconds }
      : {}),
    ...(record.state === "starting" && availability?.deploymentId === record.id
      ? { eta_seconds: availability.etaSeconds }
      : {}),
  };
}

/**
 * `GET /resource_server/{cluster}/jobs`, the reference shape: running (starting and live),
 * queued, others (draining, recent failures), and the nodes with their free GPUs. `host` is
 * null unless the viewer may see addresses (admins).
 */
export function jobsView(scheduler: Scheduler, cluster: ClusterConfig, viewer: JobsViewer) {
  const records = scheduler.deployments().filter((d) => d.cluster === cluster.name);
  const byQueue = (a: DeploymentRecord, b: DeploymentRecord) =>
    (a.queuedAt?.getTime() ?? 0) - (b.queuedAt?.getTime() ?? 0);
  const holding = records.filter((d) => d.nodeName && isUnfinishedDeployment(d.state));
  const nodes = cluster.nodes.map((node) => {
    const here = holding.filter((d) => d.nodeName === node.name);
    const used = here.reduce((sum, d) => sum + d.gpus, 0);
    return {
      name: node.name,
      role: node.role,
      gpus: node.gpus,
      gpus_free: node.gpus - used,
      deployments: here.map((d) => ({
        job_id: d.id,
        model: shownModel(scheduler, cluster, d, viewer)?.id ?? null,
        state: d.state,
        gpus: d.gpus,
      })),
    };
  });
  return {
    cluster: cluster.name,
    status: scheduler.clusterProblem(cluster) ? "unavailable" : "active",
    status_reason: scheduler.clusterProblem(cluster) ?? null,
    running: records
      .filter((d) => d.state === "starting" || d.state === "live")
      .map((d) => jobEntry(scheduler, cluster, d, viewer)),
    queued: records
      .filter((d) => d.state === "queued")
      .sort(byQueue)
      .map((d) => jobEntry(scheduler, cluster, d, viewer)),
    others: records
      .filter((d) => d.state === "draining" || d.state === "failed")
      .map((d) => jobEntry(scheduler, cluster, d, viewer)),
    free_nodes: nodes.filter((n) => n.gpus_free === n.gpus).map((n) => n.name),
    nodes,
  };
}
