import cluster from "node:cluster";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createPostgresDatabase, testDrivers } from "@switchyard/db/testing";
import { afterAll, describe, expect, it } from "vitest";
import { startPrimaryProcess } from "../src/commands/serve";
import { memoryLogger, tempDataDir } from "./helpers";

const drivers = await testDrivers();

// No hot model: the primary's scheduler starts nothing.
const CONFIG = `
clusters:
  - name: lab
    nodes: [{ name: rot-1, gpus: 8, role: rotating }]
    frameworks: [vllm]
models:
  - { id: org/cold, cluster: lab, framework: vllm, capabilities: [chat], placement: dynamic, engine: { type: simulator, loadTime: 1s, profile: fast } }
`;

// The primary forks stand-ins that listen like gateway workers, not the CLI: what is tested is
// the primary's own process, not its workers.
cluster.setupPrimary({
  exec: fileURLToPath(new URL("./fixtures/stand-in-gateway-worker.mjs", import.meta.url)),
  args: [],
  silent: true,
});

describe.runIf(drivers.includes("postgres"))("the primary of serve --workers N", () => {
  const drops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const drop of drops) await drop();
  });

  it("logs its own lines as component primary, its batch worker's as batch-worker", async () => {
    const pg = await createPostgresDatabase();
    drops.push(() => pg.drop());
    const dataDir = tempDataDir();
    const config = path.join(dataDir, "switchyard.yaml");
    writeFileSync(config, CONFIG);
    const { logger, lines } = memoryLogger();
    const running = await startPrimaryProcess(
      { port: 0, host: "127.0.0.1", dataDir, config, roles: ["gateway", "scheduler", "batch"] },
      2,
      { DATABASE_URL: pg.url },
      { logger, access: logger, flush: async () => {} },
    );
    running.logger.info("shutting down");
    await running.close();

    const logged = lines.map((line) => JSON.parse(line) as { msg: string; component?: string });
    const component = (msg: string) => logged.filter((l) => l.msg === msg).map((l) => l.component);
    // The primary's lines: each worker listening, its shutdown and its stop.
    expect(component("gateway worker listening")).toEqual(["primary", "primary"]);
    expect(component("shutting down")).toEqual(["primary"]);
    expect(component("switchyard stopped")).toEqual(["primary"]);
    // The background roles it runs beside them keep theirs.
    expect(component("switchyard 0.1.0 running scheduler, batch")).toEqual(["batch-worker"]);
    expect(component("switchyard (scheduler, batch) stopped")).toEqual(["batch-worker"]);
  });
});
