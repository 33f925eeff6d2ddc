import { defaultConfigInput, type SwitchyardConfig, validateConfig } from "@switchyard/core";
import { describe, expect, it } from "vitest";
import { modelRuntimes, syncCatalog } from "../src";
import { openTestDatabase, testDrivers } from "../src/testing";

const drivers = await testDrivers();

function defaultConfig(): SwitchyardConfig {
  const result = validateConfig(defaultConfigInput());
  if (!result.ok) throw new Error("built-in catalog invalid");
  return result.config;
}

describe.each(drivers)("catalog sync on %s", (driver) => {
  it("mirrors the config's clusters, nodes and models, idempotently", async () => {
    const db = await openTestDatabase(driver);
    try {
      const config = defaultConfig();
      await syncCatalog(db.prisma, config);
      await syncCatalog(db.prisma, config);
      expect(await db.prisma.cluster.count()).toBe(2);
      expect(await db.prisma.node.count({ where: { clusterName: "sophia" } })).toBe(8);
      expect(await db.prisma.model.count()).toBe(config.models.length);
      const runtimes = await modelRuntimes(db.prisma);
      expect(runtimes.size).toBe(config.models.length);
      expect(runtimes.get("sophia/openai/gpt-oss-120b")).toMatchObject({ clusterStatus: "active", deployments: [] });
    } finally {
      await db.close();
    }
  });

  it("keeps removed models' rows but drops them from the catalog", async () => {
    const db = await openTestDatabase(driver);
    try {
      const config = defaultConfig();
      await syncCatalog(db.prisma, config);
      const smaller = { ...config, models: config.models.filter((m) => m.id !== "Qwen/QwQ-32B") };
      await syncCatalog(db.prisma, smaller);
      expect(await db.prisma.model.count()).toBe(config.models.length);
      const runtimes = await modelRuntimes(db.prisma);
      expect(runtimes.has("sophia/Qwen/QwQ-32B")).toBe(false);
      await syncCatalog(db.prisma, config);
      expect((await modelRuntimes(db.prisma)).has("sophia/Qwen/QwQ-32B")).toBe(true);
    } finally {
      await db.close();
    }
  });

  it("reports active deployments and an operator's maintenance window", async () => {
    const db = await openTestDatabase(driver);
    try {
      await syncCatalog(db.prisma, defaultConfig());
      const model = await db.prisma.model.findFirstOrThrow({ where: { name: "Qwen/Qwen2.5-7B-Instruct" } });
      const node = await db.prisma.node.findFirstOrThrow({ where: { name: "sophia-gpu-06" } });
      await db.prisma.deployment.createMany({
        data: [
          {
            id: "dep_a",
            modelId: model.id,
            clusterName: "sophia",
            nodeId: node.id,
            state: "starting",
            launcher: "local",
            gpus: 1,
            startedAt: new Date(),
          },
          { id: "dep_b", modelId: model.id, clusterName: "sophia", state: "offline", launcher: "local", gpus: 1 },
        ],
      });
      let runtime = (await modelRuntimes(db.prisma)).get("sophia/Qwen/Qwen2.5-7B-Instruct");
      expect(runtime?.deployments).toEqual([
        expect.objectContaining({ id: "dep_a", state: "starting", nodeName: "sophia-gpu-06" }),
      ]);

      await db.prisma.cluster.update({
        where: { name: "sophia" },
        data: { maintenanceSince: new Date(), maintenanceReason: "GPU firmware" },
      });
      await syncCatalog(db.prisma, defaultConfig()); // a restart does not end maintenance
      runtime = (await modelRuntimes(db.prisma)).get("sophia/Qwen/Qwen2.5-7B-Instruct");
      expect(runtime).toMatchObject({ clusterStatus: "maintenance", clusterStatusReason: "GPU firmware" });
    } finally {
      await db.close();
    }
  });
});
