import { readFileSync } from "node:fs";
import { apiMarkdown } from "@switchyard/http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../src";
import { memoryLogger, tempDataDir } from "./helpers";

describe("the OpenAPI document", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({
      port: 0,
      host: "127.0.0.1",
      dataDir: tempDataDir(),
      inMemoryDatabase: true,
      schedulerAutoTick: false,
      logger: memoryLogger().logger,
      env: { SWITCHYARD_ADMIN_PASSWORD: "docs-generation-only" },
    });
  });
  afterAll(() => server?.close());

  it("covers every route in the route table, with request schemas and catalogue errors", async () => {
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as any;
    expect(doc.openapi).toBe("3.1.0");
    for (const route of server.routes.routes) {
      const path = route.path.replace(/:(\w+)/g, "{$1}").replace(/\*(\w+)/g, "{$1}");
      expect(doc.paths[path]?.[route.method.toLowerCase()], `${route.method} ${route.path}`).toBeDefined();
    }
    const chat = doc.paths["/v1/chat/completions"].post;
    expect(chat.requestBody.content["application/json"].schema.$ref).toBe("#/components/schemas/chatRequest");
    expect(Object.keys(chat.responses)).toEqual(
      expect.arrayContaining(["200", "400", "401", "403", "404", "413", "422", "429", "502", "503", "504"]),
    );
    expect(chat.responses["503"].content["application/json"].examples.model_not_ready).toBeDefined();
    expect(doc.components.schemas.chatRequest.properties.messages).toBeDefined();
    expect(doc.paths["/health"].get.security).toEqual([]);
    // Query parameters come from the route's query schema.
    expect(doc.paths["/resource_server/{cluster}/models"].get.parameters).toContainEqual(
      expect.objectContaining({ name: "model_id", in: "query", required: false }),
    );
  });

  it("is what docs/api.md says (run `pnpm docs:generate` after changing routes)", async () => {
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as Record<string, unknown>;
    const committed = readFileSync(new URL("../../../docs/api.md", import.meta.url), "utf8");
    expect(committed).toBe(apiMarkdown(doc));
  });
});
