import { writeFileSync } from "node:fs";
import path from "node:path";
import { createUser } from "@switchyard/auth";
import { createPostgresDatabase, type TestPostgresDatabase } from "@switchyard/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer } from "../../src";
import { ADMIN_PASSWORD, memoryLogger, tempDataDir } from "../helpers";

// `batch.fileAccess: service` (the default) lends the service account's rights to every user's
// batches: fine for one user, a hole on a shared install. `serve` must say so at start.

const WARNING = "batch.fileAccess is 'service'";

/** Start and stop a server on `url` with `extraConfig`; the lines it logged. */
async function startOnce(
  url: string,
  extraConfig: string,
  then?: (s: Awaited<ReturnType<typeof startServer>>) => Promise<void>,
) {
  const dataDir = tempDataDir();
  const configFile = path.join(dataDir, "switchyard.yaml");
  const cluster = "clusters:\n  - { name: lab, nodes: [{ name: n1, gpus: 1, role: hot }], frameworks: [vllm] }\n";
  writeFileSync(configFile, `${extraConfig}\n${cluster}`);
  const log = memoryLogger();
  const server = await startServer({
    port: 0,
    host: "127.0.0.1",
    dataDir,
    configFile,
    databaseUrl: url,
    schedulerAutoTick: false,
    logger: log.logger,
    env: { SWITCHYARD_ADMIN_PASSWORD: ADMIN_PASSWORD },
  });
  try {
    await then?.(server);
  } finally {
    await server.close();
  }
  return log.lines;
}

describe("a shared install left in batch.fileAccess 'service' mode", () => {
  let pg: TestPostgresDatabase;
  beforeAll(async () => {
    pg = await createPostgresDatabase();
  });
  afterAll(async () => pg?.drop());

  it("serve warns at start once more than one user exists, and not in posix mode", async () => {
    const alone = await startOnce(pg.url, "", async (server) => {
      await createUser(server.ctx.db.prisma, { username: "second-user", password: "second-user-password" });
    });
    expect(alone.filter((line) => line.includes(WARNING))).toEqual([]);
    const shared = await startOnce(pg.url, "");
    const warned = shared.filter((line) => line.includes(WARNING));
    expect(warned).toHaveLength(1);
    expect(JSON.parse(warned[0] as string)).toMatchObject({ level: 40, users: 2 });
    const posix = await startOnce(pg.url, "batch:\n  fileAccess: posix");
    expect(posix.filter((line) => line.includes(WARNING))).toEqual([]);
  });
});
