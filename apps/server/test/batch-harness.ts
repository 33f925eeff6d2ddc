import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createApiKey, createUser } from "@switchyard/auth";
import type { Clock } from "@switchyard/core";
import { createPostgresDatabase, pgliteTemplate, type TestDriver } from "@switchyard/db/testing";
import OpenAI, { toFile } from "openai";
import type { Batch } from "openai/resources/batches";
import type { FileObject } from "openai/resources/files";
import { type RunningServer, startServer } from "../src";
import { ADMIN_PASSWORD, memoryLogger, tempDataDir } from "./helpers";

/**
 * Batch models on simulators: a fast one, a slow one (for cancel and expiry), a flaky one
 * (503s to retry), a cold dynamic one, and one without the batch capability. The cluster
 * allows `<data-dir>/shared`.
 */
export function batchConfig(shared: string, extra = "", extraModels = ""): string {
  return `
batch:
  checkpointInterval: 100ms
  retries: 8
${extra}
clusters:
  - name: lab
    nodes: [{ name: hot-1, gpus: 8, role: hot }, { name: rot-1, gpus: 8, role: rotating }]
    frameworks: [vllm, llama-cpp]
    batch: { allowedDirs: ["${shared}"] }
models:
  - { id: org/batchy, cluster: lab, framework: vllm, capabilities: [chat, completions, embedding, batch], placement: hot, node: hot-1, aliases: [batchy], contextLength: 4096, engine: { type: simulator, loadTime: 100ms, profile: fast } }
  - { id: org/slow, cluster: lab, framework: vllm, capabilities: [chat, batch], placement: hot, node: hot-1, engine: { type: simulator, loadTime: 100ms, timeToFirstToken: 20ms, tokensPerSecond: 50, maxConcurrency: 4 } }
  - { id: org/flaky, cluster: lab, framework: vllm, capabilities: [chat, batch], placement: hot, node: hot-1, engine: { type: simulator, loadTime: 100ms, profile: fast, args: ["--fail-rate", "0.2", "--fail-status", "503"] } }
  - { id: org/cold, cluster: lab, framework: vllm, capabilities: [chat, batch], placement: dynamic, engine: { type: simulator, loadTime: 1s, profile: fast } }
  - { id: org/chatonly, cluster: lab, framework: vllm, capabilities: [chat], placement: hot, node: hot-1, engine: { type: simulator, loadTime: 100ms, profile: fast } }
${extraModels}`;
}

export interface BatchHarness {
  server: RunningServer;
  dataDir: string;
  /** The PostgreSQL database's URL, when the harness runs on PostgreSQL. */
  databaseUrl: string | undefined;
  /** The cluster's allowed directory for the reference API. */
  shared: string;
  key: string;
  otherKey: string;
  client: OpenAI;
  logs: string[];
  api(
    method: string,
    route: string,
    body?: unknown,
    key?: string,
  ): Promise<{ status: number; json: any; text: string }>;
  /** Upload `content` as a batch file and create a chat-completions batch from it (OpenAI API). */
  submit(content: Buffer, filename: string): Promise<{ file: FileObject; batch: Batch }>;
  /** Poll a batch (OpenAI view) until its status is one of `statuses`. */
  waitFor(id: string, statuses: string[], timeoutMs?: number): Promise<any>;
  close(): Promise<void>;
}

export function chatLine(i: number, model = "org/batchy", extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    custom_id: `req-${i}`,
    method: "POST",
    url: "/v1/chat/completions",
    body: { model, messages: [{ role: "user", content: `question ${i}` }], max_tokens: 8, ...extra },
  });
}

export function jsonl(lines: string[]): string {
  return `${lines.join("\n")}\n`;
}

export async function startBatchHarness(
  options: { driver?: TestDriver; clock?: Clock; extraConfig?: string; extraModels?: string; waitFor?: string[] } = {},
): Promise<BatchHarness> {
  const dataDir = tempDataDir();
  const shared = path.join(dataDir, "shared");
  mkdirSync(shared, { recursive: true });
  const configFile = path.join(dataDir, "switchyard.yaml");
  writeFileSync(configFile, batchConfig(shared, options.extraConfig, options.extraModels));
  const log = memoryLogger();
  const pg = options.driver === "postgres" ? await createPostgresDatabase() : undefined;
  const server = await startServer({
    port: 0,
    host: "127.0.0.1",
    dataDir,
    configFile,
    inMemoryDatabase: pg ? false : await pgliteTemplate(),
    ...(pg ? { databaseUrl: pg.url } : {}),
    logger: log.logger,
    env: { SWITCHYARD_ADMIN_PASSWORD: ADMIN_PASSWORD },
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const user = await createUser(server.ctx.db.prisma, { username: "researcher", password: "researcher-password" });
  const { key } = await createApiKey(server.ctx.db.prisma, { userId: user.id });
  const other = await createUser(server.ctx.db.prisma, { username: "someone-else", password: "someone-else-password" });
  const { key: otherKey } = await createApiKey(server.ctx.db.prisma, { userId: other.id });
  const hot = options.waitFor ?? ["org/batchy", "org/slow", "org/flaky"];
  const deadline = Date.now() + 60_000;
  while (!hot.every((m) => server.ctx.scheduler.availability("lab", m).status === "live")) {
    if (Date.now() > deadline) throw new Error("hot models not live in time");
    await new Promise((r) => setTimeout(r, 100));
  }
  const client = new OpenAI({ apiKey: key, baseURL: `${server.url}/v1`, maxRetries: 0, timeout: 60_000 });
  const api: BatchHarness["api"] = async (method, route, body, as = key) => {
    const res = await fetch(`${server.url}${route}`, {
      method,
      headers: { authorization: `Bearer ${as}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text };
  };
  return {
    server,
    dataDir,
    databaseUrl: pg?.url,
    shared,
    key,
    otherKey,
    client,
    logs: log.lines,
    api,
    async submit(content, filename) {
      const file = await client.files.create({ file: await toFile(content, filename), purpose: "batch" });
      const batch = await client.batches.create({
        input_file_id: file.id,
        endpoint: "/v1/chat/completions",
        completion_window: "24h",
      });
      return { file, batch };
    },
    async waitFor(id, statuses, timeoutMs = 60_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const { json } = await api("GET", `/v1/batches/${id}`);
        if (statuses.includes(json?.status)) return json;
        if (Date.now() > until) throw new Error(`batch ${id} is ${json?.status}, not ${statuses.join("/")}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async close() {
      await server.close();
      await pg?.drop();
    },
  };
}
