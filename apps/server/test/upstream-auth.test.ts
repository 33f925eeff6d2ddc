import { writeFileSync } from "node:fs";
import path from "node:path";
import { startSimulator } from "@switchyard/engines";
import OpenAI, { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../src";
import { ADMIN_PASSWORD, memoryLogger, passwordToken, tempDataDir } from "./helpers";

/**
 * A model server someone else runs with an API key (vLLM's `--api-key`): Switchyard sends the
 * key from the model's `apiKeyEnv` with requests, readiness and health checks, and batches,
 * and never the client's own credentials.
 */
describe("external model servers that want an API key", () => {
  let sim: Awaited<ReturnType<typeof startSimulator>>;
  let server: RunningServer;
  let client: OpenAI;
  const log = memoryLogger();

  beforeAll(async () => {
    sim = await startSimulator({ model: "org/keyed", profile: "fast", apiKey: "upstream-secret", logLevel: "silent" });
    const dataDir = tempDataDir();
    const config = path.join(dataDir, "switchyard.yaml");
    writeFileSync(
      config,
      `gateway: { holdSeconds: 1 }
clusters:
  - name: lab
    nodes: [{ name: n1, gpus: 2, role: hot }]
    frameworks: [vllm]
models:
  - { id: org/keyed, cluster: lab, framework: vllm, capabilities: [chat, batch], placement: hot, node: n1, engine: { type: external, url: "${sim.url}", apiKeyEnv: UPSTREAM_KEY } }
  - { id: org/keyless, cluster: lab, framework: vllm, capabilities: [chat], placement: hot, node: n1, engine: { type: external, url: "${sim.url}" } }
`,
    );
    server = await startServer({
      port: 0,
      host: "127.0.0.1",
      dataDir,
      configFile: config,
      inMemoryDatabase: true,
      logger: log.logger,
      env: { SWITCHYARD_ADMIN_PASSWORD: ADMIN_PASSWORD, UPSTREAM_KEY: "upstream-secret" },
    });
    client = new OpenAI({ apiKey: await passwordToken(server.url), baseURL: `${server.url}/v1`, maxRetries: 0 });
    const deadline = Date.now() + 30_000;
    while (server.ctx.scheduler.availability("lab", "org/keyed").status !== "live") {
      if (Date.now() > deadline) throw new Error("org/keyed did not become live (its readiness check needs the key)");
      await new Promise((r) => setTimeout(r, 50));
    }
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await sim?.close();
  });

  it("is live (the readiness check carried the key) and answers chat and streams", async () => {
    const answer = await client.chat.completions.create({
      model: "org/keyed",
      messages: [{ role: "user", content: "hello" }],
      max_tokens: 4,
    });
    expect(answer.choices[0]?.message.content).toBeTruthy();
    const stream = await client.chat.completions.create({
      model: "org/keyed",
      messages: [{ role: "user", content: "hello" }],
      max_tokens: 4,
      stream: true,
    });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBeTruthy();
  });

  it("runs a batch against it", async () => {
    const lines = Array.from({ length: 20 }, (_, i) =>
      JSON.stringify({
        custom_id: `q-${i}`,
        method: "POST",
        url: "/v1/chat/completions",
        body: { model: "org/keyed", messages: [{ role: "user", content: `q ${i}` }], max_tokens: 4 },
      }),
    );
    const file = await client.files.create({
      file: await toFile(Buffer.from(`${lines.join("\n")}\n`), "keyed.jsonl"),
      purpose: "batch",
    });
    let batch = await client.batches.create({
      input_file_id: file.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    });
    const deadline = Date.now() + 30_000;
    while (!["completed", "failed", "cancelled", "expired"].includes(batch.status)) {
      if (Date.now() > deadline) throw new Error(`batch is ${batch.status}`);
      await new Promise((r) => setTimeout(r, 100));
      batch = await client.batches.retrieve(batch.id);
    }
    expect(batch).toMatchObject({ status: "completed", request_counts: { total: 20, completed: 20, failed: 0 } });
  });

  it("a server configured without the key is never live and gets no traffic", async () => {
    // Same server, no apiKeyEnv: its readiness check gets 401, so no traffic is sent there.
    expect(server.ctx.scheduler.availability("lab", "org/keyless").status).not.toBe("live");
    const refused = await client.chat.completions
      .create({ model: "org/keyless", messages: [{ role: "user", content: "hello" }], max_tokens: 4 })
      .catch((error: { status: number }) => error);
    expect(refused).toMatchObject({ status: 503 });
  });
});
