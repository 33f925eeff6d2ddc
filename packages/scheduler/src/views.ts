import {
  type Capability,
  type ClusterConfig,
  type ClusterStatusMap,
  ENDPOINT_CAPABILITY,
  type Endpoint,
  type EndpointList,
  isUnfinishedDeployment,
  type ModelCapabilities,
  type ModelDetails,
  type ModelObject,
  type ReferenceJobFields,
  type ReplicaCounts,
  type ResolvedModel,
  type ResourceJobsView,
  type SwitchyardConfig,
} from "@switchyard/core";
import type { Scheduler } from "./scheduler";
import type { DeploymentRecord } from "./store";

/** `meta-llama/Meta-Llama-3.1-8B-Instruct` -> `meta-llama`, as Hugging Face ids name their owner. */
function ownerOf(model: ResolvedModel): string {
  const slash = model.id.indexOf("/");
  return slash > 0 ? model.id.slice(0, slash) : (model.family ?? "switchyard");
}

/**
 * A model's replicas by state now, and its bounds (`replicas` of `/v1/models` and the
 * dashboard). `min` is what the scheduler keeps whatever the demand: an unpinned hot model
 * under `adaptive` has 0, so its being offline reads as a model waiting for demand, not as a
 * hot model below its minimum.
 */
export function replicaCounts(scheduler: Scheduler, model: ResolvedModel): ReplicaCounts {
  const counts = { live: 0, starting: 0, queued: 0, draining: 0 };
  for (const d of scheduler.deploymentsOf(model.cluster, model.id)) {
    if (d.state in counts) counts[d.state as keyof typeof counts]++;
  }
  return { ...counts, min: scheduler.keptReplicas(model.cluster, model.id), max: model.maxReplicas };
}

/** One `/v1/models` entry: OpenAI's model object plus status, queue position, ETA and replicas. */
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
    replicas: replicaCounts(scheduler, model),
  };
}

/**
 * Who looks at a view (built from a principal by the auth package's `viewerOf`): whether model
 * servers' addresses are shown, which models they may use, and their groups (for their limits).
 */
export interface Viewer {
  addresses: boolean;
  groups: readonly string[];
  mayUse(cluster: ClusterConfig, model: ResolvedModel): boolean;
}

export function visibleModels(
  config: SwitchyardConfig,
  viewer: Pick<Viewer, "mayUse">,
  cluster?: string,
  framework?: string,
): ResolvedModel[] {
  const clusters = new Map(config.clusters.map((c) => [c.name, c]));
  return config.models.filter((model) => {
    const c = clusters.get(model.cluster);
    if (!c || (cluster && model.cluster !== cluster) || (framework && model.framework !== framework)) return false;
    return viewer.mayUse(c, model);
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

/** Code point order, as the reference gateway sorts model names (Python's `sorted`). */
const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** `GET /resource_server/list-endpoints`: every cluster, its frameworks, their models and endpoint paths. */
export function listEndpoints(
  config: SwitchyardConfig,
  scheduler: Scheduler,
  viewer: Pick<Viewer, "mayUse">,
): EndpointList {
  const clusters: EndpointList["clusters"] = {};
  for (const cluster of config.clusters) {
    const frameworks: EndpointList["clusters"][string]["frameworks"] = {};
    for (const framework of cluster.frameworks) {
      const base = `/resource_server/${cluster.name}/${framework.name}/v1`;
      frameworks[framework.name] = {
        models: visibleModels(config, viewer, cluster.name, framework.name)
          .map((m) => m.id)
          .sort(byCodePoint),
        endpoints: framework.endpoints.map((endpoint) => `/v1/${endpoint}`),
        endpoint_urls: Object.fromEntries(
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

/** `GET /resource_server/status`: the clusters open to every signed-in user, true when up. */
export function clusterStatusMap(config: SwitchyardConfig, scheduler: Scheduler): ClusterStatusMap {
  return Object.fromEntries(
    config.clusters.filter((c) => c.allowedGroups.length === 0).map((c) => [c.name, !scheduler.clusterProblem(c)]),
  );
}

/** The capabilities object of `GET /resource_server/{cluster}/models`. */
function capabilitiesOf(config: SwitchyardConfig, model: ResolvedModel): ModelCapabilities {
  const has = (capability: Capability) => model.capabilities.includes(capability);
  const framework = config.clusters
    .find((c) => c.name === model.cluster)
    ?.frameworks.find((f) => f.name === model.framework);
  const protocols = (framework?.endpoints ?? []).filter((e) => has(ENDPOINT_CAPABILITY[e]));
  return {
    schema_version: 1,
    api_protocols: protocols.map((e) => e.replace("/", "_")),
    context_window_tokens: model.contextLength ?? null,
    input_modalities: has("vision") ? ["text", "image"] : ["text"],
    streaming: has("chat") || has("completions"),
    // The engines' reasoning parsers return the reasoning apart from the answer (`reasoning_content`).
    reasoning: { supported: has("reasoning"), separate_output: has("reasoning") },
    tool_calling: { supported: has("tools") },
  };
}

/** The caller's tokens-per-minute limit: the user default, or the most generous of their groups'. */
function userTokensPerMinute(config: SwitchyardConfig, viewer: Pick<Viewer, "groups">): number | undefined {
  const limits = config.gateway.limits;
  let tokens = limits.user.tokensPerMinute;
  for (const group of viewer.groups) {
    const override = limits.groups[group]?.tokensPerMinute;
    if (override !== undefined) tokens = Math.max(tokens ?? 0, override);
  }
  return tokens;
}

/** One entry of `GET /resource_server/{cluster}/models`: public metadata, never engine settings. */
export function modelDetails(
  config: SwitchyardConfig,
  model: ResolvedModel,
  viewer: Pick<Viewer, "groups">,
): ModelDetails {
  const limits = config.gateway.limits;
  const perModel = limits.models[model.id]?.tokensPerMinute ?? limits.model.tokensPerMinute;
  const perUser = userTokensPerMinute(config, viewer);
  return {
    id: model.id,
    object: "model",
    cluster: model.cluster,
    framework: model.framework,
    display_name: model.displayName ?? model.id,
    ...(model.description ? { description: model.description } : {}),
    capabilities: capabilitiesOf(config, model),
    ...(perModel ? { rate_limit_token_per_minute: perModel } : {}),
    ...(perUser ? { rate_limit_token_per_minute_per_user: perUser } : {}),
  };
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
    replica: record.replica + 1,
    max_replicas: model?.maxReplicas ?? null,
    ...(record.state === "queued" && availability?.deploymentId === record.id
      ? { queue_position: availability.queuePosition, eta_seconds: availability.etaSeconds }
      : {}),
    ...(record.state === "queued" ? { estimated_start: estimatedStart(scheduler, record, availability) } : {}),
    ...(record.state === "starting" && availability?.deploymentId === record.id
      ? { eta_seconds: availability.etaSeconds }
      : {}),
    ...referenceFields(scheduler, cluster, record, viewer, model, availability),
  };
}

const JOB_STATES: Record<DeploymentRecord["state"], string> = {
  queued: "Q",
  starting: "R",
  live: "R",
  draining: "E",
  failed: "F",
  offline: "F",
};
const MODEL_STATUSES: Partial<Record<DeploymentRecord["state"], string>> = {
  queued: "queued",
  starting: "starting",
  live: "running",
};

/** `HH:MM:SS` (hours may pass 99), as PBS reports a job's walltime. */
function walltime(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(Math.floor(total / 3600))}:${two(Math.floor((total % 3600) / 60))}:${two(total % 60)}`;
}

/**
 * When a queued deployment's server should start: the launcher's own estimate for a job in its
 * queue (Slurm's), else when our ETA says it is ready; null when neither is known.
 */
function estimatedStart(
  scheduler: Scheduler,
  record: DeploymentRecord,
  availability: ReturnType<Scheduler["availability"]> | undefined,
): string | null {
  if (record.state !== "queued") return null;
  if (record.estimatedStartAt) return record.estimatedStartAt.toISOString();
  const eta = availability?.deploymentId === record.id ? availability.etaSeconds : null;
  return eta === null || eta === undefined ? null : new Date(scheduler.now() + eta * 1000).toISOString();
}

/** The reference gateway's keys of one job, under the same rules as ours (addresses, hidden models). */
function referenceFields(
  scheduler: Scheduler,
  cluster: ClusterConfig,
  record: DeploymentRecord,
  viewer: JobsViewer,
  model: ResolvedModel | undefined,
  availability: ReturnType<Scheduler["availability"]> | undefined,
): ReferenceJobFields {
  const now = scheduler.now();
  const start = estimatedStart(scheduler, record, availability);
  return {
    Models: model?.id ?? "",
    Framework: model?.framework ?? "",
    Cluster: cluster.name,
    "Job ID": record.jobId ?? record.id,
    "Job State": JOB_STATES[record.state],
    "Host Name": viewer.addresses ? (record.host ?? null) : null,
    "Nodes Reserved": "1",
    ...(record.startedAt && (record.state === "starting" || record.state === "live" || record.state === "draining")
      ? { Walltime: walltime(now - record.startedAt.getTime()) }
      : {}),
    // As the reference does, the key is there only when the start is known.
    ...(start ? { "Estimated Start Time": start } : {}),
    "Model Status": MODEL_STATUSES[record.state] ?? "other",
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
    status: scheduler.clusterProblem(cluster) ? ("unavailable" as const) : ("active" as const),
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

/**
 * `GET /resource_server/{cluster}/jobs`: the jobs view with the reference gateway's groups
 * beside ours. `stopped` names the models the viewer may use that have nothing running or
 * queued; in maintenance (or before a cluster opens) every one of them, as the reference does.
 */
export function resourceJobsView(
  config: SwitchyardConfig,
  scheduler: Scheduler,
  cluster: ClusterConfig,
  viewer: JobsViewer,
): ResourceJobsView {
  const view = jobsView(scheduler, cluster, viewer);
  const down = scheduler.clusterProblem(cluster) !== undefined;
  const models = config.models.filter((m) => m.cluster === cluster.name && (viewer.mayUse?.(cluster, m) ?? true));
  const busy = new Set([...view.running, ...view.queued].flatMap((j) => j.models));
  const stopped = models
    .filter((m) => down || !busy.has(m.id))
    .sort((a, b) => byCodePoint(a.id, b.id))
    .map((m) => ({ Models: m.id, Framework: m.framework, Cluster: cluster.name, "Model Status": "stopped" as const }));
  const live = new Set(view.running.filter((j) => j.state === "live").flatMap((j) => j.models));
  return {
    ...view,
    stopped,
    private_batch_running: [],
    private_batch_queued: [],
    cluster_status: {
      cluster: cluster.name,
      free_nodes: view.free_nodes.length,
      maintenance: down,
      total_models: models.length,
      live_models: live.size,
      stopped_models: stopped.length,
    },
  };
}
