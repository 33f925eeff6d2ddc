import { tmpdir } from "node:os";
import path from "node:path";
import { createApiKey, createUser } from "@switchyard/auth";
import OpenAI from "openai";
import { afterAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../src";
import { serveWithConfig } from "./helpers";

// The generated models are shared with the llama package's tests (same bytes, written once).
process.env.SWITCHYARD_CACHE_DIR = path.join(tmpdir(), "switchyard-test-cache");

/**
 * Overload on a real engine: a hot llama.cpp model kept at two replicas, each generating one
 * sequence at a time (`parallel: 1`, as llama-server's `--parallel`), sent more requests at once
 * than both take: the rest queue inside the engines, none is lost, and the gateway spreads them
 * over both replicas.
 */
const CONFIG = `
version: 1
clusters:
  - name: local
    launcher: { type: local }
    nodes: [{ name: local-hot, gpus: 2, role: hot }, { name: local-rotating, gpus: 1, role: rotating }]
    frameworks: [llama-cpp]
models:
  - id: llama-cpp/tiny-chat
    cluster: local
    framework: llama-cpp
    capabilities: [chat, completions]
    placement: hot
    minReplicas: 2
    contextLength: 512
    expectedLoadTime: 15s
    engine: { type: llama-cpp-node, weights: "generated:tiny-chat", parallel: 1, threads: 1 }
  - id: llama-cpp/tiny-embedding
    cluster: local
    framework: llama-cpp
    capabilities: [embedding]
    placement: dynamic
    idleTtl: 2s
    expectedLoadTime: 15s
    engine: { type: llama-cpp-node, weights: "generated:tiny-embedding", parallel: 1, threads: 1 }
`;
const MODEL = "llama-cpp/tiny-chat";

describe("real llama.cpp engines: two replicas under overload, and a dynamic model's start and idle stop", () => {
  let server: RunningServer | undefined;
  afterAll(() => server?.close());

  it("answers every request, queued in the engines, spread over both replicas", async () => {
    server = await serveWithConfig(CONFIG, { batchWorker: false });
    const { scheduler, db } = server.ctx;
    const live = () => scheduler.deployments().filter((d) => d.state === "live" && scheduler.modelOf(d)?.id === MODEL);
    const deadline = Date.now() + 90_000;
    while (live().length < 2) {
      if (Date.now() > deadline) throw new Error("two replicas not live in time");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const user = await createUser(db.prisma, { username: "researcher", password: "researcher-password" });
    const { key } = await createApiKey(db.prisma, { userId: user.id });
    const client = new OpenAI({ apiKey: key, baseURL: `${server.url}/v1`, maxRetries: 0, timeout: 60_000 });

    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        client.chat.completions.create({
          model: MODEL,
          messages: [{ role: "user", content: `question ${i}` }],
          max_tokens: 24,
          seed: i,
        }),
      ),
    );
    expect(answers.map((a) => a.system_fingerprint)).toEqual(Array(6).fill("llama.cpp"));
    expect(answers.every((a) => (a.usage?.completion_tokens ?? 0) > 0)).toBe(true);

    // Each engine's own count of answered chat requests: both took some, together all six.
    const answered = await Promise.all(
      live().map(async (d) => {
        const [row] = await db.query<{ serverKey: string }>(`SELECT "serverKey" FROM "deployments" WHERE "id" = $1`, [
          d.id,
        ]);
        const text = await (
          await fetch(`http://${d.host}:${d.port}/metrics`, { headers: { authorization: `Bearer ${row?.serverKey}` } })
        ).text();
        const line = text
          .split("\n")
          .find((l) => l.startsWith('llamacpp:requests_total{route="chat/completions",status="200"}'));
        return Number(line?.slice(line.lastIndexOf(" ") + 1) ?? 0);
      }),
    );
    expect(answered.reduce((a, b) => a + b, 0)).toBe(6);
    expect(Math.min(...answered)).toBeGreaterThanOrEqual(2);
  }, 150_000);

  it("starts a dynamic llama.cpp model on its first request and stops it after its idle TTL", async () => {
    if (!server) throw new Error("the first case starts the server");
    const { scheduler, db } = server.ctx;
    const state = () => scheduler.availability("local", "llama-cpp/tiny-embedding");
    expect(state().status).toBe("offline");
    const user = await db.prisma.user.findFirstOrThrow({ where: { username: "researcher" } });
    const { key } = await createApiKey(db.prisma, { userId: user.id });
    // Held while llama.cpp loads; the 503's Retry-After is followed if the load outlasts the hold.
    const client = new OpenAI({ apiKey: key, baseURL: `${server.url}/v1`, maxRetries: 3, timeout: 60_000 });
    const response = await client.embeddings.create({ model: "llama-cpp/tiny-embedding", input: "hello" });
    expect(response.data[0]?.embedding).toHaveLength(64);
    const deployment = state().deploymentId as string;
    // Idle for 2 s (no request): drained, its process stopped, offline. The model reads offline
    // from the moment it drains, so wait for the deployment's own last transition.
    const deadline = Date.now() + 30_000;
    let history = await scheduler.history([deployment]);
    while (history.at(-1)?.toState !== "offline") {
      if (Date.now() > deadline) throw new Error("not stopped after its idle TTL");
      await new Promise((resolve) => setTimeout(resolve, 100));
      history = await scheduler.history([deployment]);
    }
    expect(state().status).toBe("offline");
    expect(history.map((t) => `${t.fromState}->${t.toState}`)).toEqual([
      "offline->queued",
      "queued->starting",
      "starting->live",
      "live->draining",
      "draining->offline",
    ]);
    expect(history.find((t) => t.toState === "draining")?.cause).toMatch(/idle for 2s/);
  }, 90_000);
});
