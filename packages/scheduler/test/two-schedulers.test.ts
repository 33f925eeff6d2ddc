import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ManualClock } from "@switchyard/core";
import { openDatabase, syncCatalog } from "@switchyard/db";
import { openTestDatabase, testDrivers } from "@switchyard/db/testing";
import { describe, expect, it, vi } from "vitest";
import { LocalLauncher, Scheduler } from "../src";
import { quiet, SWITCHYARD_BIN, testConfig } from "./harness";

// Two processes race only through PostgreSQL (PGlite has one). Unreachable PostgreSQL: a skip,
// or a failure under SWITCHYARD_REQUIRE_SERVICES=1 (testDrivers throws then).
const drivers = await testDrivers();

describe.runIf(drivers.includes("postgres"))("two schedulers on one PostgreSQL database", () => {
  it("start a cold model asked of both at the same moment once: one deployment, one launch", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "sy-sched-two-"));
    const config = testConfig("local", dir, {
      models: [
        {
          id: "org/cold",
          cluster: "lab",
          framework: "vllm",
          capabilities: ["chat"],
          placement: "dynamic",
          gpus: 2,
          engine: { type: "simulator", loadTime: "300ms", profile: "fast" },
        },
      ],
    });
    const first = await openTestDatabase("postgres");
    // The second process's own connection pool to the same database.
    const second = await openDatabase({ driver: "postgres", url: first.url as string, poolSize: 4 });
    await syncCatalog(first.prisma, config);
    const clock = new ManualClock(Date.now());
    const engines = { switchyardBin: SWITCHYARD_BIN, loadTimeScale: 1 };
    const launchers = [0, 1].map(
      (i) => new LocalLauncher({ logDir: path.join(dir, `logs-${i}`), engines, stopGraceMs: 2000, logger: quiet }),
    );
    const launches = launchers.map((launcher) => vi.spyOn(launcher, "launch"));
    const [a, b] = [first, second].map(
      (db, i) =>
        new Scheduler({
          db,
          config,
          clock,
          logger: quiet,
          launchers: new Map([["lab", launchers[i]!]]),
          engines,
          autoTick: false,
        }),
    ) as [Scheduler, Scheduler];
    try {
      await a.start();
      await b.start();
      expect([a.isLeader, b.isLeader].filter(Boolean)).toHaveLength(1);

      const [fromA, fromB] = await Promise.all([a.ensureLive("lab", "org/cold"), b.ensureLive("lab", "org/cold")]);
      expect(fromA.deploymentId).toMatch(/^dep_/);
      expect(fromB.deploymentId).toBe(fromA.deploymentId);
      const model = await first.prisma.model.findFirstOrThrow({ where: { name: "org/cold" } });
      expect(await first.prisma.deployment.count({ where: { modelId: model.id } })).toBe(1);

      // Both keep reconciling until it is live; only the leader launches, and only once.
      const leader = a.isLeader ? a : b;
      const deadline = Date.now() + 30_000;
      while (leader.availability("lab", "org/cold").status !== "live" && Date.now() < deadline) {
        await a.tick();
        await b.tick();
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(leader.availability("lab", "org/cold")).toMatchObject({
        status: "live",
        deploymentId: fromA.deploymentId,
      });
      await a.tick();
      await b.tick();
      expect(launches.map((spy) => spy.mock.calls.length).sort()).toEqual([0, 1]);
      expect(await first.prisma.deployment.count({ where: { modelId: model.id } })).toBe(1);
    } finally {
      await a.close();
      await b.close();
      await second.close();
      await first.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a scheduler told not to lead never takes the free lock, yet routes by what the leader writes", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "sy-sched-follow-"));
    const config = testConfig("local", dir, {
      models: [
        {
          id: "org/cold",
          cluster: "lab",
          framework: "vllm",
          capabilities: ["chat"],
          placement: "dynamic",
          gpus: 2,
          engine: { type: "simulator", loadTime: "300ms", profile: "fast" },
        },
      ],
    });
    const first = await openTestDatabase("postgres");
    const second = await openDatabase({ driver: "postgres", url: first.url as string, poolSize: 4 });
    await syncCatalog(first.prisma, config);
    const clock = new ManualClock(Date.now());
    const engines = { switchyardBin: SWITCHYARD_BIN, loadTimeScale: 1 };
    const make = (db: typeof first, i: number, lead: boolean) => {
      const launcher = new LocalLauncher({
        logDir: path.join(dir, `logs-${i}`),
        engines,
        stopGraceMs: 2000,
        logger: quiet,
      });
      return new Scheduler({
        db,
        config,
        clock,
        logger: quiet,
        launchers: new Map([["lab", launcher]]),
        engines,
        autoTick: false,
        lead,
      });
    };
    // The gateway starts first, with the lock free: it still does not lead.
    const gateway = make(second, 1, false);
    const leader = make(first, 0, true);
    try {
      await gateway.start();
      expect(gateway.isLeader).toBe(false);
      clock.advance(10_000); // past a follower's 5 s between attempts
      await gateway.tick();
      expect(gateway.isLeader).toBe(false);
      await leader.start();
      expect(leader.isLeader).toBe(true);

      const asked = await gateway.ensureLive("lab", "org/cold");
      const deadline = Date.now() + 30_000;
      while (gateway.availability("lab", "org/cold").status !== "live" && Date.now() < deadline) {
        await leader.tick();
        await gateway.tick();
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(gateway.availability("lab", "org/cold")).toMatchObject({
        status: "live",
        deploymentId: asked.deploymentId,
      });
      expect(gateway.isLeader).toBe(false);
    } finally {
      await gateway.close();
      await leader.close();
      await second.close();
      await first.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
