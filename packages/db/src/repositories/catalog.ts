import type { SwitchyardConfig } from "@switchyard/core";
import type { PrismaClientOrTransaction } from "../types";

/**
 * The config is the catalog's source of truth; these rows mirror it so deployments, usage and
 * operator actions (maintenance, pins) have something to point at. Entries that left the
 * config are kept (their history stays) but marked `inCatalog = false`.
 */
export async function syncCatalog(db: PrismaClientOrTransaction, config: SwitchyardConfig): Promise<void> {
  const clusterNames = config.clusters.map((c) => c.name);
  for (const cluster of config.clusters) {
    const fields = {
      displayName: cluster.displayName ?? null,
      status: cluster.status,
      statusReason: cluster.statusReason ?? null,
      launcher: cluster.launcher.type,
      inCatalog: true,
    };
    await db.cluster.upsert({
      where: { name: cluster.name },
      create: { name: cluster.name, ...fields },
      update: fields,
    });
    for (const node of cluster.nodes) {
      await db.node.upsert({
        where: { clusterName_name: { clusterName: cluster.name, name: node.name } },
        create: { clusterName: cluster.name, name: node.name, gpus: node.gpus, role: node.role },
        update: { gpus: node.gpus, role: node.role, inCatalog: true },
      });
    }
    await db.node.updateMany({
      where: { clusterName: cluster.name, name: { notIn: cluster.nodes.map((n) => n.name) } },
      data: { inCatalog: false },
    });
  }
  await db.cluster.updateMany({ where: { name: { notIn: clusterNames } }, data: { inCatalog: false } });

  for (const model of config.models) {
    const fields = {
      framework: model.framework,
      placement: model.placement,
      capabilities: model.capabilities,
      gpus: model.gpus,
      contextLength: model.contextLength ?? null,
      inCatalog: true,
    };
    await db.model.upsert({
      where: { clusterName_name: { clusterName: model.cluster, name: model.id } },
      create: { clusterName: model.cluster, name: model.id, ...fields },
      update: fields,
    });
  }
  const keep = new Set(config.models.map((m) => `${m.cluster}/${m.id}`));
  const existing = await db.model.findMany({
    where: { inCatalog: true },
    select: { id: true, clusterName: true, name: true },
  });
  const gone = existing.filter((m) => !keep.has(`${m.clusterName}/${m.name}`)).map((m) => m.id);
  if (gone.length > 0) await db.model.updateMany({ where: { id: { in: gone } }, data: { inCatalog: false } });
}
