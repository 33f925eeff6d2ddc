import { writeFileSync } from "node:fs";
import path from "node:path";
import { createApiKey, createUser } from "@switchyard/auth";
import { pgliteTemplate } from "@switchyard/db/testing";
import OpenAI from "openai";
import { type RunningServer, startServer } from "../src";
import { ADMIN_PASSWORD, memoryLogger, tempDataDir } from "./helpers";

const MODELS: { id: string; hot: boolean; line: string }[] = [
  {
    id: "org/chat",
    hot: true,
    line: "{ id: org/chat, cluster: lab, framework: vllm, capabilities: [chat, completions, tools, vision, batch], placement: hot, node: hot-1, aliases: [chatty], contextLength: 8192, engine: { type: simulator, loadTime: 100ms, timeToFirstToken: 20ms, tokensPerSecond: 200 } }",
  },
  {
    id: "org/thinker",
    hot: true,
    line: "{ id: org/thinker, cluster: lab, framework: vllm, capabilities: [chat, reasoning], placement: hot, node: hot-1, engine: { type: simulator, loadTime: 100ms, profile: fast } }",
  },
  {
    id: "org/plain",
    hot: true,
    line: "{ id: org/plain, cluster: lab, framework: vllm, capabilities: [chat, completions], placement: hot, node: hot-1, engine: { type: simulator, loadTime: 100ms, profile: fast } }",
  },
  {
    id: "org/embed",
    hot: true,
    line: "{ id: org/embed, cluster: lab, framework: infinity, capabilities: [embedding], placement: hot, node: hot-1, engine: { type: simulator, loadTime: 100ms, embeddingDimensions: 64, profile: fast } }",
  },
  {
    id: "org/cold",
    hot: false,
    line: "{ id: org/cold, cluster: lab, framework: vllm, capabilities: [chat, completions], placement: dynamic, engine: { type: simulator, loadTime: 1s, profile: fast } }",
  },
  {
    id: "org/secret",
    hot: true,
    line: "{ id: org/secret, cluster: lab, framework: vllm, capabilities: [chat], placement: hot, node: hot-1, allowedGroups: [vip], engine: { type: simulator, loadTime: 100ms, profile: fast } }",
  },
  {
    id: "org/elsewhere",
    hot: true,
    line: "{ id: org/elsewhere, cluster: other, framework: vllm, capabilities: [chat], placement: hot, node: o-1, engine: { type: simulator, loadTime: 100ms, profile: fast } }",
  },
];

/**
 * A small catalog of simulators (real processes, paced like a GPU server) for gateway tests:
 * a tool- and vision-capable chat model, a plain one, an embedding model, a cold dynamic one,
 * a group-restricted one, and a second cluster. With `hot`, only those hot models are in it
 * (the dynamic one always is): each hot model is a process started at boot.
 */
export function gatewayConfig(extra = "", hot?: string[]): string {
  const models = MODELS.filter((m) => !m.hot || !hot || hot.includes(m.id));
  return `
gateway:
${extra.includes("holdSeconds") ? "" : "  holdSeconds: 10\n"}${extra}
clusters:
  - name: lab
    nodes: [{ name: hot-1, gpus: 8, role: hot }, { name: rot-1, gpus: 8, role: rotating }]
    frameworks: [vllm, infinity]
  - name: other
    nodes: [{ name: o-1, gpus: 8, role: hot }]
    frameworks: [vllm]
models:
${models.map((m) => `  - ${m.line}`).join("\n")}
`;
}

export interface GatewayHarness {
  server: RunningServer;
  key: string;
  /** An OpenAI client on Switchyard's plain /v1 base URL. */
  client: OpenAI;
  /** An OpenAI client on the reference service's path for a cluster and framework. */
  reference(cluster: string, framework: string): OpenAI;
  logs: string[];
  close(): Promise<void>;
}

/**
 * Boot a server on the gateway catalog. `waitFor` names the hot models a test uses: only those
 * are started (and awaited); without it, all of them are, and all but org/elsewhere awaited.
 */
export async function startGatewayHarness(
  options: { extraConfig?: string; redisUrl?: string; waitFor?: string[] } = {},
): Promise<GatewayHarness> {
  const dataDir = tempDataDir();
  const configFile = path.join(dataDir, "switchyard.yaml");
  writeFileSync(configFile, gatewayConfig(options.extraConfig, options.waitFor));
  const log = memoryLogger();
  const server = await startServer({
    port: 0,
    host: "127.0.0.1",
    dataDir,
    configFile,
    inMemoryDatabase: await pgliteTemplate(),
    logger: log.logger,
    redisUrl: options.redisUrl,
    env: { SWITCHYARD_ADMIN_PASSWORD: ADMIN_PASSWORD },
  });
  // A researcher (not an admin: admins pass every group policy).
  const user = await createUser(server.ctx.db.prisma, { username: "researcher", password: "researcher-password" });
  const { key } = await createApiKey(server.ctx.db.prisma, { userId: user.id });
  const hot = options.waitFor ?? ["org/chat", "org/thinker", "org/plain", "org/embed", "org/secret"];
  const deadline = Date.now() + 60_000;
  while (!hot.every((m) => server.ctx.scheduler.availability("lab", m).status === "live")) {
    if (Date.now() > deadline) throw new Error("hot models not live in time");
    await new Promise((r) => setTimeout(r, 100));
  }
  const make = (baseURL: string) => new OpenAI({ apiKey: key, baseURL, maxRetries: 0, timeout: 30_000 });
  return {
    server,
    key,
    client: make(`${server.url}/v1`),
    reference: (cluster, framework) => make(`${server.url}/resource_server/${cluster}/${framework}/v1`),
    logs: log.lines,
    close: () => server.close(),
  };
}

/** Raw HTTP to the gateway, for what the OpenAI client hides (headers, odd bodies). */
export async function post(h: GatewayHarness, route: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${h.server.url}${route}`, {
    method: "POST",
    headers: { authorization: `Bearer ${h.key}`, "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}
