import { ErrorBodySchema, ModelListSchema, ModelObjectSchema } from "@switchyard/core";
import { createPostgresDatabase, type TestPostgresDatabase, testDrivers } from "@switchyard/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../src";
import { ADMIN_PASSWORD, memoryLogger, passwordToken, tempDataDir } from "./helpers";

const drivers = await testDrivers();

describe.each(drivers)("switchyard serve on %s", (driver) => {
  let server: RunningServer;
  let pg: TestPostgresDatabase | undefined;
  let token: string;
  const log = memoryLogger();

  beforeAll(async () => {
    pg = driver === "postgres" ? await createPostgresDatabase() : undefined;
    server = await startServer({
      port: 0,
      host: "127.0.0.1",
      dataDir: tempDataDir(),
      schedulerAutoTick: false,
      inMemoryDatabase: driver === "pglite",
      databaseUrl: pg?.url,
      logger: log.logger,
      env: { SWITCHYARD_ADMIN_PASSWORD: ADMIN_PASSWORD },
    });
    token = await passwordToken(server.url);
  });
  afterAll(async () => {
    await server?.close();
    await pg?.drop();
  });

  const get = (path: string, init?: RequestInit) =>
    fetch(`${server.url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...init?.headers } });

  it("answers /health with the database's state", async () => {
    const res = await get("/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      status: "ok",
      database: { driver, status: "up" },
      version: "0.1.0",
      // The all-in-one: every role, its scheduler leading.
      roles: ["gateway", "scheduler", "batch"],
      scheduler: { leader: true },
      batch: { running: 0 },
    });
    const ready = await fetch(`${server.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready", roles: ["gateway", "scheduler", "batch"], database: "up" });
  });

  it("lists the whole catalog as an OpenAI model list with statuses", async () => {
    const res = await get("/v1/models");
    expect(res.status).toBe(200);
    const body = ModelListSchema.parse(await res.json());
    expect(body.data).toHaveLength(server.ctx.config.models.length);
    expect(body.data.map((m) => m.id)).toEqual(server.ctx.config.models.map((m) => m.id));
    const gptOss = body.data.find((m) => m.id === "openai/gpt-oss-120b");
    expect(gptOss).toMatchObject({
      object: "model",
      owned_by: "openai",
      cluster: "sophia",
      framework: "vllm",
      engine: "simulator",
      placement: "hot",
      max_model_len: 131072,
      capabilities: ["chat", "completions", "batch", "reasoning"],
    });
    // The scheduler is held still in this suite: nothing was started, and every model says so.
    expect(new Set(body.data.map((m) => m.status))).toEqual(new Set(["offline"]));
    expect(body.data.filter((m) => m.capabilities.includes("embedding")).map((m) => m.framework)).toEqual([
      "infinity",
      "infinity",
      "infinity",
    ]);
  });

  it("reports every model of a cluster in maintenance as offline, with the reason", async () => {
    const prisma = server.ctx.db.prisma;
    await prisma.cluster.update({
      where: { name: "sophia" },
      data: { maintenanceSince: new Date(), maintenanceReason: "firmware" },
    });
    await server.ctx.scheduler.reload();
    try {
      const list = ModelListSchema.parse(await (await get("/v1/models")).json());
      expect(list.data.every((m) => m.status === "offline")).toBe(true);
      expect(list.data[0]?.status_reason).toBe("cluster sophia is in maintenance: firmware");
    } finally {
      await prisma.cluster.update({
        where: { name: "sophia" },
        data: { maintenanceSince: null, maintenanceReason: null },
      });
      await server.ctx.scheduler.reload();
    }
  });

  it("finds one model by its id (with slashes) or by an alias", async () => {
    const byId = await get("/v1/models/meta-llama/Meta-Llama-3.1-8B-Instruct");
    expect(byId.status).toBe(200);
    expect(ModelObjectSchema.parse(await byId.json()).aliases).toContain("llama-8b");
    const byAlias = await get("/v1/models/llama-8b");
    expect(ModelObjectSchema.parse(await byAlias.json()).id).toBe("meta-llama/Meta-Llama-3.1-8B-Instruct");
  });

  it("answers an unknown model, route or method with the OpenAI error body", async () => {
    const model = await get("/v1/models/acme/nope");
    expect(model.status).toBe(404);
    expect(ErrorBodySchema.parse(await model.json()).error).toMatchObject({
      code: "model_not_found",
      type: "invalid_request_error",
    });

    const route = await get("/v2/everything");
    expect(route.status).toBe(404);
    expect(ErrorBodySchema.parse(await route.json()).error.code).toBe("route_not_found");

    const method = await get("/v1/models", { method: "DELETE" });
    expect(method.status).toBe(405);
    expect(method.headers.get("allow")).toBe("GET");
    expect(ErrorBodySchema.parse(await method.json()).error).toMatchObject({
      code: "method_not_allowed",
      message: "DELETE is not allowed on /v1/models; allowed: GET.",
    });
  });

  it("returns the caller's x-request-id, or makes one, and logs one line per request", async () => {
    const res = await get("/health", { headers: { "x-request-id": "trace-123" } });
    expect(res.headers.get("x-request-id")).toBe("trace-123");
    const made = await get("/health", { headers: { "x-request-id": "bad id with spaces" } });
    expect(made.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const line = log.lines.map((l) => JSON.parse(l)).find((l) => l.requestId === "trace-123");
    expect(line).toMatchObject({ msg: "request", method: "GET", path: "/health", status: 200 });
  });

  it("exposes Prometheus metrics", async () => {
    const res = await get("/metrics");
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/switchyard_http_requests_total\{route="\/health",method="GET",status="200"\} \d+/);
  });
});

describe("health when the database is gone", () => {
  it("answers 503 and says the database is down", async () => {
    const log = memoryLogger();
    const server = await startServer({
      port: 0,
      host: "127.0.0.1",
      dataDir: tempDataDir(),
      schedulerAutoTick: false,
      inMemoryDatabase: true,
      logger: log.logger,
      env: {},
    });
    try {
      await server.ctx.db.close();
      const res = await fetch(`${server.url}/health`);
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ status: "unavailable", database: { status: "down" } });
    } finally {
      await server.close();
    }
  });
});
