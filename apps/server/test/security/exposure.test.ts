import { writeFileSync } from "node:fs";
import { request } from "node:http";
import path from "node:path";
import { createApiKey, createUser } from "@switchyard/auth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../../src";
import { chatLine, jsonl, startBatchHarness } from "../batch-harness";
import { ADMIN_PASSWORD, memoryLogger, passwordToken, scrapeMetrics, tempDataDir } from "../helpers";

const SCRAPE_TOKEN = "scrape-token-for-tests-7d1e";

/** A server without model servers: what is exposed does not depend on them. */
async function serve(extraConfig: string, env: Record<string, string> = {}): Promise<RunningServer> {
  const dataDir = tempDataDir();
  const configFile = path.join(dataDir, "switchyard.yaml");
  const cluster = "clusters:\n  - { name: lab, nodes: [{ name: n1, gpus: 1, role: hot }], frameworks: [vllm] }\n";
  writeFileSync(configFile, `${extraConfig}\n${cluster}`);
  return startServer({
    port: 0,
    host: "127.0.0.1",
    dataDir,
    configFile,
    inMemoryDatabase: true,
    logger: memoryLogger().logger,
    env: { SWITCHYARD_ADMIN_PASSWORD: ADMIN_PASSWORD, ...env },
  });
}

const scrape = (url: string, authorization?: string) =>
  fetch(`${url}/metrics`, authorization ? { headers: { authorization } } : {});

describe("what an anonymous client or an ordinary user can read", () => {
  let server: RunningServer;
  let userKey: string;

  beforeAll(async () => {
    server = await serve("", { SWITCHYARD_METRICS_TOKEN: SCRAPE_TOKEN });
    const user = await createUser(server.ctx.db.prisma, { username: "curious", password: "curious-password" });
    userKey = (await createApiKey(server.ctx.db.prisma, { userId: user.id })).key;
  });
  afterAll(async () => {
    await server?.close();
  });

  it("an anonymous client or a user reading /metrics is refused; the scrape token and an admin are let in", async () => {
    const anonymous = await scrape(server.url);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.text()).not.toContain("switchyard_");
    expect((await scrape(server.url, `Bearer ${userKey}`)).status).toBe(403);
    expect((await scrape(server.url, `Bearer ${SCRAPE_TOKEN}x`)).status).toBe(401);
    const scraper = await scrape(server.url, `Bearer ${SCRAPE_TOKEN}`);
    expect(scraper.status).toBe(200);
    expect(await scraper.text()).toMatch(/switchyard_http_requests_total/);
    const admin = await scrape(server.url, `Bearer ${await passwordToken(server.url)}`);
    expect(admin.status).toBe(200);
  });

  it("an unauthenticated upload is answered 401 before its body is read", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const target = new URL(`${server.url}/v1/files`);
      const req = request({
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: "POST",
        headers: { "content-type": "multipart/form-data; boundary=x", "content-length": String(100 * 1024 * 1024) },
      });
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on("error", (error) => {
        if (!req.destroyed) reject(error);
      });
      // A few kilobytes of the announced 100 MB: a server that reads (or buffers) the body first never answers.
      req.write(`--x\r\ncontent-disposition: form-data; name="file"; filename="a.jsonl"\r\n\r\n${"a".repeat(8192)}`);
      setTimeout(() => reject(new Error("no answer while the body was still being sent")), 20_000).unref();
    });
    expect(status).toBe(401);
  });
});

describe("metrics on a separate address", () => {
  it("metrics.listen serves /metrics there, and the main port still asks for credentials", async () => {
    const server = await serve("metrics:\n  listen: 127.0.0.1:0");
    try {
      expect(server.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const there = await fetch(server.metricsUrl as string);
      expect(there.status).toBe(200);
      expect(await there.text()).toMatch(/switchyard_/);
      expect((await scrape(server.url)).status).toBe(401);
    } finally {
      await server.close();
    }
  });

  it("with a scrape token set, the separate address asks for it too", async () => {
    const server = await serve("metrics:\n  listen: 127.0.0.1:0", { SWITCHYARD_METRICS_TOKEN: SCRAPE_TOKEN });
    try {
      const url = (server.metricsUrl as string).replace(/\/metrics$/, "");
      expect((await scrape(url)).status).toBe(401);
      expect((await scrape(url, `Bearer ${SCRAPE_TOKEN}`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe("what a scrape tells about other users' work", () => {
  it("a running batch shows in /metrics by model, never by its id", async () => {
    const h = await startBatchHarness();
    try {
      const lines = Array.from({ length: 40 }, (_, i) => chatLine(i, "org/slow"));
      const { batch } = await h.submit(Buffer.from(jsonl(lines)), "slow.jsonl");
      await h.waitFor(batch.id, ["in_progress"]);
      let text = "";
      for (let i = 0; i < 100 && !/switchyard_batch_concurrency\{/.test(text); i++) {
        await new Promise((r) => setTimeout(r, 100));
        text = await scrapeMetrics(h.server.url);
      }
      expect(text).toMatch(/switchyard_batch_concurrency\{model="org\/slow"\} [1-9]/);
      expect(text).not.toContain(batch.id);
      expect(text).not.toMatch(/batch="/);
      await h.client.batches.cancel(batch.id);
    } finally {
      await h.close();
    }
  });
});
