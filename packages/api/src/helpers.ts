import { modelAccessProblem, type Principal } from "@switchyard/auth";
import type { ClusterConfig } from "@switchyard/core";
import { type AuditRecord, recordAudit } from "./audit";
import type { ApiDeps } from "./context";

export const iso = (date: Date | null | undefined): string | null => date?.toISOString() ?? null;

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
