import { existsSync, mkdirSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createApiKey, createUser } from "@switchyard/auth";
import OpenAI, { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../../src";
import { ADMIN_PASSWORD, memoryLogger, tempDataDir } from "../helpers";

const line = `${JSON.stringify({
  custom_id: "a-1",
  method: "POST",
  url: "/v1/chat/completions",
  body: { model: "org/x", messages: [{ role: "user", content: "hi" }], max_tokens: 4 },
})}\n`;

async function until(check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/**
 * A user who uploads and walks away, or drops uploads halfway, fills the disk unless `serve`
 * removes expired files and abandoned uploads by itself (every batch.fileCleanupInterval).
 */
describe("files nobody removes", () => {
  let server: RunningServer;
  let dataDir: string;
  let client: OpenAI;

  beforeAll(async () => {
    dataDir = tempDataDir();
    const configFile = path.join(dataDir, "switchyard.yaml");
    writeFileSync(
      configFile,
      "batch: { fileCleanupInterval: 1s }\n" +
        "clusters:\n  - { name: lab, nodes: [{ name: n1, gpus: 1, role: hot }], frameworks: [vllm] }\n",
    );
    server = await startServer({
      port: 0,
      host: "127.0.0.1",
      dataDir,
      configFile,
      inMemoryDatabase: true,
      logger: memoryLogger().logger,
      env: { SWITCHYARD_ADMIN_PASSWORD: ADMIN_PASSWORD },
    });
    const user = await createUser(server.ctx.db.prisma, { username: "hoarder", password: "hoarder-password" });
    const { key } = await createApiKey(server.ctx.db.prisma, { userId: user.id });
    client = new OpenAI({ apiKey: key, baseURL: `${server.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("serve removes an expired file and an abandoned upload on its own timer", async () => {
    const prisma = server.ctx.db.prisma;
    const expired = await client.files.create({ file: await toFile(Buffer.from(line), "old.jsonl"), purpose: "batch" });
    const kept = await client.files.create({ file: await toFile(Buffer.from(line), "new.jsonl"), purpose: "batch" });
    const pathOf = async (id: string) => (await prisma.file.findUniqueOrThrow({ where: { id } })).path;
    await prisma.file.update({ where: { id: expired.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const uploads = path.join(dataDir, "files", "uploads");
    mkdirSync(uploads, { recursive: true });
    const part = path.join(uploads, "file-00000000000000000000abcd.jsonl.part");
    writeFileSync(part, "half an upload");
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
    utimesSync(part, twoHoursAgo, twoHoursAgo);
    const expiredPath = await pathOf(expired.id);
    expect(existsSync(expiredPath)).toBe(true);

    // Nobody calls anything: the timer does it.
    expect(await until(() => !existsSync(part) && !existsSync(expiredPath), 10_000)).toBe(true);
    await expect(client.files.retrieve(expired.id)).rejects.toMatchObject({ status: 404 });
    expect((await client.files.retrieve(kept.id)).id).toBe(kept.id);
    expect(existsSync(await pathOf(kept.id))).toBe(true);
  });
});
