import { createApiKey, createUser } from "@switchyard/auth";
import OpenAI from "openai";
import { afterAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../src";
import { memoryLogger, serveWithConfig, steadyChat } from "./helpers";

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
    server = await serveWithConfig(CONFIG);
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

/**
 * Fault 7: a model server that hangs (accepts requests, never answers, yet passes its health
 * check), with the real local launcher and a real simulator: timeouts fire as configured, the
 * replica leaves rotation after `replicaFailures` of them, and serves again once it is healthy.
 */
const HANGING = `
gateway:
  holdSeconds: 2
  upstreamTimeout: 1s
scheduler:
  replicaFailures: 2
  healthInterval: 1s
clusters:
  - name: lab
    nodes: [{ name: hot-1, gpus: 8, role: hot }]
    frameworks: [vllm]
models:
  - { id: org/stuck, cluster: lab, framework: vllm, capabilities: [chat], placement: hot, node: hot-1, engine: { type: simulator, loadTime: 100ms, profile: fast, args: [--hang-after-requests, "3", --hang-for, 5s] } }
`;

describe("a model server that hangs", () => {
  let server: RunningServer | undefined;
  afterAll(() => server?.close());

  it("times out as configured, leaves rotation after replicaFailures timeouts, and serves again when healthy", async () => {
    const log = memoryLogger();
    server = await serveWithConfig(HANGING, { logger: log.logger });
    const { scheduler } = server.ctx;
    const user = await createUser(server.ctx.db.prisma, { username: "researcher", password: "researcher-password" });
    const { key } = await createApiKey(server.ctx.db.prisma, { userId: user.id });
    const client = new OpenAI({ apiKey: key, baseURL: `${server.url}/v1`, maxRetries: 0, timeout: 30_000 });
    const deadline = Date.now() + 30_000;
    while (scheduler.availability("lab", "org/stuck").status !== "live") {
      if (Date.now() > deadline) throw new Error("org/stuck not live in time");
      await sleep(50);
    }
    const ask = async () => {
      const began = Date.now();
      const outcome = await client.chat.completions
        .create({ model: "org/stuck", messages: [{ role: "user", content: "hi" }], max_tokens: 4 })
        .then(
          () => ({ status: 200, code: null as string | null }),
          (error: InstanceType<typeof OpenAI.APIError>) => ({ status: error.status ?? 0, code: error.code ?? null }),
        );
      return { ...outcome, ms: Date.now() - began };
    };
    for (let i = 0; i < 3; i++) expect((await ask()).status).toBe(200);
    const hungAt = Date.now();
    // Hung: each request ends with 504 upstream_timeout after the configured second, not sooner or much later.
    for (let i = 0; i < 2; i++) {
      const timedOut = await ask();
      expect(timedOut).toMatchObject({ status: 504, code: "upstream_timeout" });
      expect(timedOut.ms).toBeGreaterThanOrEqual(950);
      expect(timedOut.ms).toBeLessThan(3000);
    }
    expect(log.lines.filter((l) => l.includes("taken out of rotation until a health check passes"))).toHaveLength(1);
    // Meanwhile: held, then 503 (or, put back by a passing health check, timed out again); never a 502 or 500.
    expect([503, 504]).toContain((await ask()).status);
    // The hang is over: back in rotation once a health check passes, and answering.
    await sleep(Math.max(0, hungAt + 5500 - Date.now()));
    let last = await ask();
    for (let i = 0; last.status !== 200 && i < 5; i++) last = await ask();
    expect(last.status).toBe(200);
  }, 60_000);
});
