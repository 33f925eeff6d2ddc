import { Catalog, type ClusterConfig, type ResolvedModel, type SwitchyardConfig } from "@switchyard/core";
import { upstreamAuthorization } from "@switchyard/engines";
import type { Logger } from "pino";

/** One model of the catalog as the scheduler needs it. */
export interface ModelEntry {
  key: string;
  config: ResolvedModel;
  cluster: ClusterConfig;
  /** Its row id in `models` (deployments refer to it). */
  rowId: string;
  /** An external server's key (`apiKeyEnv`), sent with every request and readiness check. */
  authorization: string | undefined;
}

/** The scheduler's key of a model: `cluster/model`. */
export function modelKey(cluster: string, model: string): string {
  return `${cluster}/${model}`;
}

/**
 * The configured models that have a catalog row, by `cluster/model` and by row id; built once
 * at start (the catalog changes with a restart).
 */
export class CatalogIndex {
  private readonly byKey = new Map<string, ModelEntry>();
  private readonly byRowId = new Map<string, ModelEntry>();

  constructor(
    private readonly config: SwitchyardConfig,
    private readonly env: NodeJS.ProcessEnv | undefined,
  ) {}

  /** Index the configured models whose cluster exists and that have a row (warns about unkeyed servers). */
  load(rows: { id: string; name: string; clusterName: string }[], logger: Logger): void {
    const rowIds = new Map(rows.map((r) => [modelKey(r.clusterName, r.name), r.id]));
    const catalog = Catalog.of(this.config);
    for (const model of this.config.models) {
      const key = modelKey(model.cluster, model.id);
      const cluster = catalog.findCluster(model.cluster);
      const rowId = rowIds.get(key);
      if (!cluster || !rowId) continue;
      const auth = upstreamAuthorization(model, this.env);
      if (auth.missing) {
        logger.warn(
          { model: model.id, env: auth.missing },
          "scheduler: the model's API key variable is not set; its server is called without a key",
        );
      }
      if (model.engine.type === "ollama") {
        logger.warn(
          { model: model.id },
          "scheduler: Ollama cannot require an API key; anyone who reaches its node and port can call it",
        );
      }
      const entry = { key, config: model, cluster, rowId, authorization: auth.authorization };
      this.byKey.set(key, entry);
      this.byRowId.set(rowId, entry);
    }
  }

  entry(cluster: string, model: string): ModelEntry | undefined {
    return this.byKey.get(modelKey(cluster, model));
  }

  /** The entry of a deployment's model (by its row id). */
  ofRow(rowId: string): ModelEntry | undefined {
    return this.byRowId.get(rowId);
  }

  entries(): IterableIterator<ModelEntry> {
    return this.byKey.values();
  }

  /**
   * The `Authorization` a deployment's server wants: its own generated key when Switchyard
   * launched it, an external server's `apiKeyEnv` key otherwise (none for deployments started
   * before servers had keys).
   */
  authorizationFor(rowId: string, serverKey: string | undefined): string | undefined {
    const entry = this.byRowId.get(rowId);
    if (!entry) return undefined;
    if (entry.config.engine.type === "external") return entry.authorization;
    return upstreamAuthorization(entry.config, this.env, serverKey).authorization;
  }
}
