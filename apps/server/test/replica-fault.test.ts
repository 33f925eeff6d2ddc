import { writeFileSync } from "node:fs";
import path from "node:path";
import { createApiKey, createUser } from "@switchyard/auth";
import OpenAI from "openai";
import { afterAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../src";
import { ADMIN_PASSWORD, memoryLogger, steadyChat, tempDataDir } from "./helpers";

/**
 * A model server killed under load, with the real local launcher: its requests are held (or
 * retried) until the scheduler has restarted it, and none fails.
 */
const CONFIG = `
gateway:
  holdSeconds: 20
scheduler:
  restartBackoff: { initial: 100ms }
clusters:
  - name: lab
    nodes: [{ name: hot-1, gpus: 8, role: hot }]
    frameworks: [vllm]
models:
  - { id: org/chat, cluster: lab, framework: vllm, capabilities: [chat], placement: hot, node: hot-1, engine: { type: simulator, loadTime: 300ms, timeToFirstToken: 20ms, tokensPerSecond: 100 } }
`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("a hot model's server killed with SIGKILL under a steady trickle of requests", () => {
  let server: RunningServer | undefined;
  afterAll(() => server?.close());

  it("fails no request: they are held until the restarted server is live", async () => {
    const dataDir = tempDataDir();
    const configFile = path.join(dataDir, "switchyard.yaml");
    writeFileSync(configFile, CONFIG);
    server = await startServer({
      port: 0,
      host: "127.0.0.1",
      dataDir,
      configFile,
      inMemoryDatabase: true,
      logger: memoryLogger().logger,
      env: { SWITCHYARD_ADMIN_PASSWORD: ADMIN_PASSWORD },
    });
    const { scheduler } = server.ctx;
    const user = await createUser(server.ctx.db.prisma, { username: "researcher", password: "researcher-password" });
    const { key } = await createApiKey(server.ctx.db.prisma, { userId: user.id });
    const client = new OpenAI({ apiKey: key, baseURL: `${server.url}/v1`, maxRetries: 0, timeout: 30_000 });
    const deadline = Date.now() + 30_000;
    while (scheduler.availability("lab", "org/chat").status !== "live") {
      if (Date.now() > deadline) throw new Error("org/chat not live in time");
      await sleep(50);
    }
    const first = scheduler.availability("lab", "org/chat").deploymentId as string;
    const pid = Number(scheduler.deployments().find((d) => d.id === first)?.jobId);
    expect(pid).toBeGreaterThan(0);

    // 20 requests a second for 4 s; the server is killed after 1 s.
    const { results, slowest } = await steadyChat(client, "org/chat", 80, (i) => {
      if (i === 20) process.kill(pid, "SIGKILL");
    });
    expect(results.filter((r) => r !== "ok")).toEqual([]);
    // Some were held through the restart (its backoff and load time), not answered by luck.
    expect(slowest).toBeGreaterThan(300);

    // The deployment was restarted: the killed one failed, a new one is live.
    const now = scheduler.availability("lab", "org/chat");
    expect(now.status).toBe("live");
    expect(now.deploymentId).not.toBe(first);
    expect(scheduler.deployments().find((d) => d.id === first)?.state).toBe("failed");
  }, 40_000);
});
