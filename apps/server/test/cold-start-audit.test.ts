import { createApiKey, createUser } from "@switchyard/auth";
import OpenAI from "openai";
import { afterAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../src";
import { serveWithConfig } from "./helpers";

const CONFIG = `
clusters:
  - name: lab
    nodes: [{ name: rot-1, gpus: 8, role: rotating }]
    frameworks: [vllm]
models:
  - { id: org/cold, cluster: lab, framework: vllm, capabilities: [chat], placement: dynamic, engine: { type: simulator, loadTime: 100ms, profile: fast } }
`;

describe("a user's request that starts a cold model", () => {
  let server: RunningServer | undefined;
  afterAll(() => server?.close());

  it("is in the audit log once, under that user; the history users see does not name them", async () => {
    server = await serveWithConfig(CONFIG, { batchWorker: false });
    const { db, scheduler } = server.ctx;
    const user = await createUser(db.prisma, { username: "researcher", password: "researcher-password" });
    const { key } = await createApiKey(db.prisma, { userId: user.id });
    const client = new OpenAI({ apiKey: key, baseURL: `${server.url}/v1`, maxRetries: 0, timeout: 30_000 });
    const ask = () =>
      client.chat.completions.create({ model: "org/cold", messages: [{ role: "user", content: "hi" }], max_tokens: 2 });
    await Promise.all([ask(), ask()]); // two at once: one start
    await ask(); // live by now: no start at all

    const rows = await db.prisma.auditLog.findMany({ where: { action: "models.coldStart" } });
    const deployment = scheduler.availability("lab", "org/cold").deploymentId;
    expect(rows).toEqual([
      expect.objectContaining({
        actorId: user.id,
        actorUsername: "researcher",
        via: "api_key",
        targetType: "model",
        targetId: "lab/org/cold",
        details: { deployment },
      }),
    ]);
    const history = await scheduler.history([deployment as string]);
    expect(history[0]).toMatchObject({ fromState: "offline", toState: "queued", cause: "requested" });
  }, 60_000);
});
