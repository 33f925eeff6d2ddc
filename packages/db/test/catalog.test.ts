import { defaultConfigInput, type SwitchyardConfig, validateConfig } from "@switchyard/core";
import { describe, expect, it } from "vitest";
import { syncCatalog } from "../src";
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
      expect(await db.prisma.cluster.count()).toBe(4);
      expect(await db.prisma.node.count({ where: { clusterName: "sophia" } })).toBe(8);
      expect(await db.prisma.model.count()).toBe(config.models.length);
      const gptOss = await db.prisma.model.findFirstOrThrow({ where: { name: "openai/gpt-oss-120b" } });
      expect(gptOss).toMatchObject({
        clusterName: "sophia",
        placement: "hot",
        gpus: 4,
        contextLength: 131072,
        inCatalog: true,
      });
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
      const inCatalog = async () =>
        (await db.prisma.model.findFirstOrThrow({ where: { name: "Qwen/QwQ-32B" } })).inCatalog;
      expect(await inCatalog()).toBe(false);
      await syncCatalog(db.prisma, config);
      expect(await inCatalog()).toBe(true);
    } finally {
      await db.close();
    }
  });

  it("keeps an operator's maintenance window across a restart's sync", async () => {
    const db = await openTestDatabase(driver);
    try {
      await syncCatalog(db.prisma, defaultConfig());
      await db.prisma.cluster.update({
        where: { name: "sophia" },
        data: { maintenanceSince: new Date(), maintenanceReason: "GPU firmware" },
      });
      await syncCatalog(db.prisma, defaultConfig());
      expect(await db.prisma.cluster.findUniqueOrThrow({ where: { name: "sophia" } })).toMatchObject({
        status: "active",
        maintenanceReason: "GPU firmware",
        maintenanceSince: expect.any(Date),
      });
    } finally {
      await db.close();
    }
  });
});
