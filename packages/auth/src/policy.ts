import { apiError, type ClusterConfig, type ModelConfig, type SwitchyardError } from "@switchyard/core";
import { actsAsAdmin, type Principal } from "./principal";

/** Admins acting as admins may use everything; an admin's key without the `admin` scope is a user's. */
function allowed(principal: Principal, groups: readonly string[]): boolean {
  return groups.length === 0 || actsAsAdmin(principal) || groups.some((g) => principal.groups.includes(g));
}

/** Why the principal may not use this model on this cluster (403), or undefined when it may. */
export function modelAccessProblem(
  principal: Principal,
  cluster: Pick<ClusterConfig, "name" | "allowedGroups">,
  model: Pick<ModelConfig, "id" | "allowedGroups">,
): SwitchyardError | undefined {
  if (!allowed(principal, cluster.allowedGroups)) {
    return apiError("cluster_access_denied", { cluster: cluster.name, groups: cluster.allowedGroups.join(", ") });
  }
  if (!allowed(principal, model.allowedGroups)) {
    return apiError("model_access_denied", { model: model.id, groups: model.allowedGroups.join(", ") });
  }
  return undefined;
}

export function canUseModel(
  principal: Principal,
  cluster: Pick<ClusterConfig, "name" | "allowedGroups">,
  model: Pick<ModelConfig, "id" | "allowedGroups">,
): boolean {
  return modelAccessProblem(principal, cluster, model) === undefined;
}

export function assertModelAccess(
  principal: Principal,
  cluster: Pick<ClusterConfig, "name" | "allowedGroups">,
  model: Pick<ModelConfig, "id" | "allowedGroups">,
): void {
  const problem = modelAccessProblem(principal, cluster, model);
  if (problem) throw problem;
}

/**
 * What a principal may see of the catalogue and the infrastructure, for views that know nothing
 * of principals (the scheduler's model list, endpoint list and jobs view): model servers'
 * addresses for an admin acting as one, the models their groups allow, their groups.
 */
export function viewerOf(principal: Principal): {
  addresses: boolean;
  groups: readonly string[];
  mayUse(
    cluster: Pick<ClusterConfig, "name" | "allowedGroups">,
    model: Pick<ModelConfig, "id" | "allowedGroups">,
  ): boolean;
} {
  return {
    addresses: actsAsAdmin(principal),
    groups: principal.groups,
    mayUse: (cluster, model) => canUseModel(principal, cluster, model),
  };
}
