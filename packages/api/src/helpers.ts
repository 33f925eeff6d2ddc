import { modelAccessProblem, type Principal } from "@switchyard/auth";
import { apiError, type ClusterConfig, type ResolvedModel, type SwitchyardConfig } from "@switchyard/core";
import { type AuditRecord, recordAudit } from "./audit";
import type { ApiDeps } from "./context";

export const iso = (date: Date | null | undefined): string | null => date?.toISOString() ?? null;

export function findCluster(config: SwitchyardConfig, name: string): ClusterConfig {
  const cluster = config.clusters.find((c) => c.name === name);
  if (!cluster) {
    throw apiError("cluster_not_found", { cluster: name, clusters: config.clusters.map((c) => c.name).join(", ") });
  }
  return cluster;
}

/** A model of the catalog by cluster and id (or alias), or the catalogue's 404. */
export function findModel(
  config: SwitchyardConfig,
  clusterName: string,
  id: string,
): { cluster: ClusterConfig; model: ResolvedModel } {
  const cluster = findCluster(config, clusterName);
  const model = config.models.find((m) => m.cluster === cluster.name && (m.id === id || m.aliases.includes(id)));
  if (!model) {
    const elsewhere = config.models.filter((m) => m.id === id || m.aliases.includes(id)).map((m) => m.cluster);
    if (elsewhere.length > 0) {
      throw apiError("model_not_on_cluster", { model: id, cluster: cluster.name, clusters: elsewhere.join(", ") });
    }
    throw apiError("model_not_found", { model: id });
  }
  return { cluster, model };
}

/** Whether the principal may use the cluster at all (its group policy). */
export function canUseCluster(principal: Principal, cluster: ClusterConfig): boolean {
  return modelAccessProblem(principal, cluster, { id: "", allowedGroups: [] }) === undefined;
}

/** The principal's view of a cluster: the catalogue's 403 when its policy leaves them out. */
export function assertClusterAccess(principal: Principal, cluster: ClusterConfig): void {
  const problem = modelAccessProblem(principal, cluster, { id: "", allowedGroups: [] });
  if (problem) throw problem;
}

/** Write the audit row for a change the principal just made. */
export function audit(
  ctx: { deps: ApiDeps; principal: Principal },
  action: string,
  target: AuditRecord["target"],
  details?: Record<string, unknown>,
): Promise<void> {
  return recordAudit(ctx.deps.db.prisma, ctx.principal, {
    action,
    target,
    ...(details ? { details } : {}),
    at: new Date(ctx.deps.clock.now()),
  });
}
