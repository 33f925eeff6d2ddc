import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LocalLauncher } from "../src";
import { makeLauncher, testConfig } from "./harness";

const openFds = () => readdirSync("/proc/self/fd").length;

describe("the local launcher's own resources", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "sy-local-fds-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("keeps no descriptor per launch: after five servers started and stopped, as many fds as before", async () => {
    const config = testConfig("local", dir);
    const launcher = makeLauncher("local", config, dir);
    expect(launcher).toBeInstanceOf(LocalLauncher);
    const model = config.models.find((m) => m.id === "org/dyn-a")!;
    const node = config.clusters[0]!.nodes.find((n) => n.role === "rotating")!;
    // One launch first, so what stays open for good (the launcher's own, Node's) is counted.
    const warm = await launcher.launch({
      deploymentId: "dep_warm",
      model,
      cluster: "lab",
      node,
      gpus: 2,
      serverKey: null,
    });
    await launcher.stop("dep_warm", warm.jobId);
    const before = openFds();
    for (let i = 0; i < 5; i++) {
      const job = await launcher.launch({
        deploymentId: `dep_${i}`,
        model,
        cluster: "lab",
        node,
        gpus: 2,
        serverKey: null,
      });
      await launcher.stop(`dep_${i}`, job.jobId);
    }
    // Before the fix: one more open log file per launch (a scheduler's fds grew with cold starts).
    expect(openFds()).toBeLessThanOrEqual(before + 1);
    await launcher.shutdown();
  }, 60_000);
});
