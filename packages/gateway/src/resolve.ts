import { canUseModel, modelAccessProblem, type Principal } from "@switchyard/auth";
import {
  apiError,
  type Capability,
  Catalog,
  type ClusterConfig,
  type ResolvedModel,
  type SwitchyardConfig,
} from "@switchyard/core";
import { adapterFor, type EngineAdapterOptions } from "@switchyard/engines";
import type { Scheduler } from "@switchyard/scheduler";
import type { KindSpec } from "./kinds";

export interface Target {
  model: ResolvedModel;
  cluster: ClusterConfig;
  /** The name the client used (an alias, perhaps). */
  requested: string;
  /** The model name its server expects (the id, or e.g. Ollama's tag). */
  upstreamName: string;
  /** Set when the path named another framework of the same cluster than the one serving the model. */
  reroutedFrom?: string;
}

/**
 * Which model (on which cluster) a request means: by id or alias; on the path's cluster for
 * `/resource_server/{cluster}/{framework}/...`, otherwise where it is live, else the default
 * cluster, else the first that serves it.
 */
export class ModelResolver {
  private readonly catalog: Catalog;
  /** Answers that cannot change while the config does not (one candidate, or a path-named cluster). */
  private readonly fixed = new Map<string, Target>();
  private readonly capabilities = new Map<ResolvedModel, ReadonlySet<Capability>>();

  constructor(
    private readonly config: SwitchyardConfig,
    private readonly scheduler: Pick<Scheduler, "availability">,
    private readonly engines: EngineAdapterOptions = {},
  ) {
    this.catalog = Catalog.of(config);
  }

  private target(model: ResolvedModel, requested: string, reroutedFrom?: string): Target {
    return {
      model,
      cluster: this.catalog.clusterOf(model),
      requested,
      upstreamName: adapterFor(model, this.engines).upstreamModelName(model),
      ...(reroutedFrom ? { reroutedFrom } : {}),
    };
  }

  resolve(name: string, path?: { cluster: string; framework: string }): Target {
    const key = path ? `${path.cluster}\u0000${path.framework}\u0000${name}` : name;
    const known = this.fixed.get(key);
    if (known) return known;
    const found = this.lookup(name, path);
    if (path || this.catalog.named(name).length === 1) this.fixed.set(key, found);
    return found;
  }

  private lookup(name: string, path?: { cluster: string; framework: string }): Target {
    if (path) {
      const { cluster, framework } = this.catalog.framework(path.cluster, path.framework);
      const { model } = this.catalog.model(cluster.name, name);
      return this.target(model, name, model.framework !== framework.name ? framework.name : undefined);
    }
    const candidates = this.catalog.named(name);
    if (candidates.length === 0) throw apiError("model_not_found", { model: name });
    let model = candidates[0] as ResolvedModel;
    if (candidates.length > 1) {
      model =
        candidates.find((m) => this.scheduler.availability(m.cluster, m.id).status === "live") ??
        candidates.find((m) => m.cluster === this.config.defaultCluster) ??
        model;
    }
    return this.target(model, name);
  }

  /** Models the principal may use that have a capability, for "Models that do: ..." messages. */
  modelsWith(capability: Capability, principal: Principal): string[] {
    return this.config.models
      .filter((m) => m.capabilities.includes(capability) && canUseModel(principal, this.catalog.clusterOf(m), m))
      .map((m) => m.id);
  }

  /** 403 when the principal may not use the target. */
  authorize(principal: Principal, target: Target): void {
    const problem = modelAccessProblem(principal, target.cluster, target.model);
    if (problem) throw problem;
  }

  private capabilitiesOf(model: ResolvedModel): ReadonlySet<Capability> {
    let set = this.capabilities.get(model);
    if (!set) {
      set = new Set(model.capabilities);
      this.capabilities.set(model, set);
    }
    return set;
  }

  private refuse(target: Target, principal: Principal, capability: Capability, what: string): never {
    const others = this.modelsWith(capability, principal);
    const list =
      others.length === 0
        ? "none you may use"
        : others.slice(0, 8).join(", ") + (others.length > 8 ? `, and ${others.length - 8} more` : "");
    throw apiError("capability_not_supported", { model: target.model.id, capability: what, models: list });
  }

  /** 422 when the model lacks a capability (`batch` for batches). */
  requireCapability(target: Target, principal: Principal, capability: Capability, what: string): void {
    if (!this.capabilitiesOf(target.model).has(capability)) this.refuse(target, principal, capability, what);
  }

  /** 422 when the model cannot serve this request: the API itself, images, or tools. */
  checkCapabilities(spec: KindSpec, body: Record<string, unknown>, target: Target, principal: Principal): void {
    const has = this.capabilitiesOf(target.model);
    if (!has.has(spec.capability)) this.refuse(target, principal, spec.capability, spec.label);
    if (spec.kind === "embeddings" || spec.kind === "completions") return;
    if (!has.has("vision") && hasImages(spec.kind, body)) this.refuse(target, principal, "vision", "image inputs");
    const tools = body.tools;
    if (!has.has("tools") && Array.isArray(tools) && tools.length > 0 && body.tool_choice !== "none") {
      this.refuse(target, principal, "tools", "tool calling");
    }
  }
}

function isImage(part: unknown): boolean {
  const type = (part as { type?: unknown } | null)?.type;
  return type === "image_url" || type === "input_image" || type === "image";
}

/** Whether any message or input item carries an image part (string contents never do). */
function hasImages(kind: KindSpec["kind"], body: Record<string, unknown>): boolean {
  const list = kind === "responses" ? body.input : body.messages;
  if (!Array.isArray(list)) return false;
  for (const item of list) {
    const content = (item as { content?: unknown } | null)?.content;
    if (Array.isArray(content) && content.some(isImage)) return true;
  }
  return false;
}
