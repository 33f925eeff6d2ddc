import type { ClusterConfig, FrameworkConfig, ResolvedModel, SwitchyardConfig } from "./config/schema";
import { apiError } from "./errors";

/** A model with the cluster that serves it. */
export interface CatalogModel {
  cluster: ClusterConfig;
  model: ResolvedModel;
}

const catalogs = new WeakMap<SwitchyardConfig, Catalog>();

/**
 * Lookups in the configured catalog: clusters by name, a cluster's frameworks, models by id or
 * alias. The methods named for a thing (`cluster`, `framework`, `model`, `anyModel`) answer
 * with the error catalogue's 404 when it is unknown (`cluster_not_found`,
 * `framework_not_found`, `model_not_on_cluster`, `model_not_found`); `findCluster` and `named`
 * only look. The indexes are built once per config (`Catalog.of`): a loaded config is never
 * changed, a new catalog means a restart.
 */
export class Catalog {
  private readonly clusters: Map<string, ClusterConfig>;
  /** Every model an id or alias names, in the config's order. */
  private readonly byName = new Map<string, ResolvedModel[]>();

  /** The catalog of a config, built on first use and shared by every caller after. */
  static of(config: SwitchyardConfig): Catalog {
    let catalog = catalogs.get(config);
    if (!catalog) {
      catalog = new Catalog(config);
      catalogs.set(config, catalog);
    }
    return catalog;
  }

  constructor(private readonly config: SwitchyardConfig) {
    this.clusters = new Map(config.clusters.map((c) => [c.name, c]));
    for (const model of config.models) {
      for (const name of [model.id, ...model.aliases]) {
        const list = this.byName.get(name) ?? [];
        if (!list.includes(model)) list.push(model);
        this.byName.set(name, list);
      }
    }
  }

  /** The cluster of that name, if there is one. */
  findCluster(name: string): ClusterConfig | undefined {
    return this.clusters.get(name);
  }

  /** The cluster of that name, or `cluster_not_found` listing the known ones. */
  cluster(name: string): ClusterConfig {
    const cluster = this.clusters.get(name);
    if (!cluster) {
      throw apiError("cluster_not_found", {
        cluster: name,
        clusters: this.config.clusters.map((c) => c.name).join(", "),
      });
    }
    return cluster;
  }

  /** A framework of a cluster: `cluster_not_found`, or `framework_not_found` listing the cluster's. */
  framework(clusterName: string, name: string): { cluster: ClusterConfig; framework: FrameworkConfig } {
    const cluster = this.cluster(clusterName);
    const framework = cluster.frameworks.find((f) => f.name === name);
    if (!framework) {
      throw apiError("framework_not_found", {
        cluster: cluster.name,
        framework: name,
        frameworks: cluster.frameworks.map((f) => f.name).join(", "),
      });
    }
    return { cluster, framework };
  }

  /** The model a cluster serves under exactly this id (stored rows name ids, never aliases). */
  findById(clusterName: string, id: string): ResolvedModel | undefined {
    return this.named(id).find((m) => m.cluster === clusterName && m.id === id);
  }

  /** Every model the id or alias names (on any cluster), in the config's order; empty when none. */
  named(name: string): readonly ResolvedModel[] {
    return this.byName.get(name) ?? [];
  }

  /**
   * The model a cluster serves under that id or alias: `cluster_not_found`;
   * `model_not_on_cluster` (naming where it is served) when it exists elsewhere;
   * `model_not_found` when nowhere.
   */
  model(clusterName: string, name: string): CatalogModel {
    const cluster = this.cluster(clusterName);
    const candidates = this.named(name);
    const model = candidates.find((m) => m.cluster === cluster.name);
    if (!model) {
      if (candidates.length > 0) {
        throw apiError("model_not_on_cluster", {
          model: name,
          cluster: cluster.name,
          clusters: candidates.map((m) => m.cluster).join(", "),
        });
      }
      throw apiError("model_not_found", { model: name });
    }
    return { cluster, model };
  }

  /** The first model (in the config's order) with that id or alias, on whichever cluster; `model_not_found` otherwise. */
  anyModel(name: string): CatalogModel {
    const model = this.named(name)[0];
    const cluster = model && this.clusters.get(model.cluster);
    if (!model || !cluster) throw apiError("model_not_found", { model: name });
    return { cluster, model };
  }

  /** The cluster a configured model belongs to. */
  clusterOf(model: ResolvedModel): ClusterConfig {
    return this.cluster(model.cluster);
  }
}
