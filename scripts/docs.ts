// `pnpm docs:generate`: regenerate the docs that come from code: the error catalogue, and the
// HTTP API (from a server's route table and OpenAPI document).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { errorCatalogueMarkdown } from "@switchyard/core";
import { apiMarkdown } from "@switchyard/http";
import { createLogger, startServer } from "@switchyard/server";

writeFileSync(new URL("../docs/errors.md", import.meta.url), errorCatalogueMarkdown());
console.log("wrote docs/errors.md");

const dataDir = mkdtempSync(path.join(tmpdir(), "sy-docs-"));
const server = await startServer({
  port: 0,
  host: "127.0.0.1",
  dataDir,
  inMemoryDatabase: true,
  schedulerAutoTick: false,
  logger: createLogger({ level: "warn", pretty: false }),
  env: { SWITCHYARD_ADMIN_PASSWORD: "docs-generation-only" },
});
try {
  const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as Record<string, unknown>;
  writeFileSync(new URL("../docs/api.md", import.meta.url), apiMarkdown(doc));
  console.log("wrote docs/api.md");
} finally {
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
}
