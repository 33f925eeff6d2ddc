import { apiError, type SwitchyardConfig } from "@switchyard/core";

/** A configured cluster by name, or the catalogue's 404 listing the ones there are. */
export function findCluster(config: SwitchyardConfig, name: string) {
  const cluster = config.clusters.find((c) => c.name === name);
  if (!cluster)
    throw apiError("cluster_not_found", { cluster: name, clusters: config.clusters.map((c) => c.name).join(", ") });
  return cluster;
}

/** A framework of a configured cluster, or the catalogue's 404 for the cluster or the framework. */
export function findFramework(config: SwitchyardConfig, clusterName: string, name: string) {
  const cluster = findCluster(config, clusterName);
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
