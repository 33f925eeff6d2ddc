import { createHash } from "node:crypto";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { AppRouter } from "@switchyard/api";
import { RouteTable } from "@switchyard/http";
import { createTRPCClient, httpBatchLink, TRPCClientError } from "@trpc/client";
import express from "express";
import { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../src";
import { Dashboard, registerDashboardRoutes } from "../src/dashboard";
import { dashboardPolicy } from "../src/http/security-headers";
import { type BatchHarness, chatLine, jsonl, startBatchHarness } from "./batch-harness";
import { ADMIN_PASSWORD, memoryLogger, passwordToken, tempDataDir } from "./helpers";

/** The control plane over HTTP at /trpc, and the dashboard's files at /admin, in a real server. */
describe("the control plane and the dashboard in switchyard serve", () => {
  let server: RunningServer;
  let admin: string;
  let user: string;
  let dashboardDir: string;
  const log = memoryLogger();

  const client = (token?: string) =>
    createTRPCClient<AppRouter>({
      links: [
        httpBatchLink({
          url: `${server.url}/trpc`,
          headers: () => (token ? { authorization: `Bearer ${token}` } : {}),
        }),
      ],
    });

  beforeAll(async () => {
    dashboardDir = mkdtempSync(path.join(tmpdir(), "sy-dashboard-"));
    mkdirSync(path.join(dashboardDir, "assets"));
    writeFileSync(path.join(dashboardDir, "index.html"), "<!doctype html><title>Switchyard</title>");
    writeFileSync(path.join(dashboardDir, "assets", "app-1234.js"), "console.log(1)");
    server = await startServer({
      port: 0,
      host: "127.0.0.1",
      dataDir: tempDataDir(),
      inMemoryDatabase: true,
      schedulerAutoTick: false,
      dashboardDir,
      logger: log.logger,
      env: { SWITCHYARD_ADMIN_PASSWORD: ADMIN_PASSWORD },
    });
    admin = await passwordToken(server.url);
    await client(admin).users.create.mutate({ username: "ada", password: "ada-password-1" });
    user = await passwordToken(server.url, "ada", "ada-password-1");
  });
  afterAll(() => server?.close());

  it("serves the typed client: queries batched in one request, mutations audited", async () => {
    const api = client(admin);
    const [me, clusters, models] = await Promise.all([
      api.session.me.query(),
      api.clusters.list.query(),
      api.models.list.query({ status: "all" }),
    ]);
    expect(me).toMatchObject({ username: "admin", role: "admin" });
    expect(clusters.map((c) => c.name)).toEqual(["sophia", "metis", "cerebras", "gh200"]);
    expect(models.length).toBe(server.ctx.config.models.length);
    const audit = await api.audit.list.query({ action: "users.create" });
    expect(audit.entries[0]).toMatchObject({ actor: { username: "admin" }, target: { type: "user", id: "ada" } });
  });

  it("answers 401 without credentials, 403 to a non-admin, 400 for bad input, 404 for unknown procedures", async () => {
    const anonymous = await fetch(`${server.url}/trpc/models.list`);
    expect(anonymous.status).toBe(401);
    const body = (await anonymous.json()) as any;
    expect(body.error.data).toMatchObject({ code: "UNAUTHORIZED", httpStatus: 401 });
    expect(body.error.data.switchyard).toMatchObject({ code: "missing_credentials" });

    const denied = await client(user)
      .users.list.query()
      .catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(TRPCClientError);
    expect((denied as TRPCClientError<AppRouter>).data).toMatchObject({ httpStatus: 403, code: "FORBIDDEN" });
    expect((denied as TRPCClientError<AppRouter>).message).toBe("This action needs the admin role.");

    const bad = await fetch(`${server.url}/trpc/users.create`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      body: JSON.stringify({ username: "x y" }),
    });
    expect(bad.status).toBe(400);
    const badBody = (await bad.json()) as any;
    expect(badBody.error.message).toMatch(/^Invalid value for 'username': use 1-64 letters/);
    expect(badBody.error.data.switchyard).toEqual({
      code: "invalid_field",
      type: "invalid_request_error",
      param: "username",
    });

    const broken = await fetch(`${server.url}/trpc/users.create`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      body: "{not json",
    });
    expect(broken.status).toBe(400);

    const unknown = await fetch(`${server.url}/trpc/models.explode`, { headers: { authorization: `Bearer ${admin}` } });
    expect(unknown.status).toBe(404);
    const wrongMethod = await fetch(`${server.url}/trpc/users.create`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(wrongMethod.status).toBe(405);
  });

  it("streams deployment changes over server-sent events, the token in connectionParams", async () => {
    const params = encodeURIComponent(JSON.stringify({ token: admin }));
    const controller = new AbortController();
    const res = await fetch(`${server.url}/trpc/events.deployments?connectionParams=${params}`, {
      headers: { accept: "text/event-stream" },
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    const started = client(admin).deployments.start.mutate({ cluster: "sophia", model: "Qwen/Qwen2.5-7B-Instruct" });
    while (!text.includes('"to":"queued"')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
    controller.abort();
    expect(text).toMatch(/"model":"Qwen\/Qwen2.5-7B-Instruct".*"to":"queued"/);
    expect((await started).model).toBe("Qwen/Qwen2.5-7B-Instruct");
    await client(admin).deployments.stop.mutate({ cluster: "sophia", model: "Qwen/Qwen2.5-7B-Instruct" });

    // An event stream answers 200 at once; a caller without credentials gets an error event, then the end.
    const anonymous = await fetch(`${server.url}/trpc/events.deployments`, {
      headers: { accept: "text/event-stream" },
    });
    const events = await anonymous.text();
    expect(events).toMatch(/event: serialized-error/);
    expect(events).toMatch(/"code":"UNAUTHORIZED"/);
    expect(events).not.toMatch(/"to":/);
  });

  it("serves the dashboard: pages fall back to index.html, assets are cached for good, nothing escapes the directory", async () => {
    for (const page of ["/admin", "/admin/", "/admin/models", "/admin/device?user_code=ABCD-EFGH"]) {
      const res = await fetch(`${server.url}${page}`);
      expect(res.status, page).toBe(200);
      expect(res.headers.get("content-type"), page).toMatch(/^text\/html/);
      expect(res.headers.get("cache-control"), page).toBe("no-cache");
      expect(await res.text()).toContain("<title>Switchyard</title>");
    }
    const asset = await fetch(`${server.url}/admin/assets/app-1234.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect((await fetch(`${server.url}/admin/assets/missing-1.js`)).status).toBe(404);
    expect((await fetch(`${server.url}/admin/..%2F..%2Fpackage.json`)).status).toBe(404);
  });

  it("says so when the dashboard has not been built, and links the /device page to it", async () => {
    const app = express();
    const router = express.Router();
    registerDashboardRoutes(
      router,
      new RouteTable(),
      new Dashboard(path.join(dashboardDir, "nothing-here"), log.logger),
    );
    app.use(router);
    const bare = app.listen(0, "127.0.0.1");
    await once(bare, "listening");
    try {
      const res = await fetch(`http://127.0.0.1:${(bare.address() as AddressInfo).port}/admin/models`);
      expect(res.status).toBe(503);
      const html = await res.text();
      expect(html).toMatch(/pnpm --filter @switchyard\/admin build/);
      // The dashboard's CSP allows this page's one inline style sheet by its hash.
      const css = /<style>([^<]*)<\/style>/.exec(html)?.[1] ?? "";
      expect(dashboardPolicy(server.ctx.config)).toContain(
        `'sha256-${createHash("sha256").update(css).digest("base64")}'`,
      );
    } finally {
      bare.close();
    }
    const device = await (await fetch(`${server.url}/device?user_code=ABCD-EFGH`)).text();
    expect(device).toContain('href="/admin/device?user_code=ABCD-EFGH"');
  });
});

/** Batches made over the OpenAI API, seen and cancelled through the control plane. */
describe("batches in the control plane of switchyard serve", () => {
  let h: BatchHarness;
  const client = (token: string) =>
    createTRPCClient<AppRouter>({
      links: [httpBatchLink({ url: `${h.server.url}/trpc`, headers: { authorization: `Bearer ${token}` } })],
    });

  beforeAll(async () => {
    h = await startBatchHarness({ waitFor: ["org/slow"] });
  });
  afterAll(() => h?.close());

  it("shows a running batch to its owner and to admins only, and an admin's cancel stops it, audited", async () => {
    const file = await h.client.files.create({
      file: await toFile(Buffer.from(jsonl(Array.from({ length: 400 }, (_, i) => chatLine(i, "org/slow")))), "q.jsonl"),
      purpose: "batch",
    });
    const created = await h.client.batches.create({
      input_file_id: file.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    });
    await h.waitFor(created.id, ["in_progress"]);
    const admin = client(await passwordToken(h.server.url));
    const owner = client(h.key);
    const stranger = client(h.otherKey);

    const mine = await owner.batches.list.query();
    expect(mine).toMatchObject([{ id: created.id, owner: "researcher", status: "in_progress", model: "org/slow" }]);
    expect(await stranger.batches.list.query()).toEqual([]);
    expect((await admin.batches.list.query({ status: "active" })).map((b) => b.id)).toEqual([created.id]);
    const refused = await stranger.batches.cancel.mutate({ id: created.id }).catch((e: unknown) => e);
    expect((refused as TRPCClientError<AppRouter>).data).toMatchObject({ httpStatus: 404 });

    expect((await admin.batches.cancel.mutate({ id: created.id })).status).toMatch(/^cancell(ing|ed)$/);
    const cancelled = await h.waitFor(created.id, ["cancelled"]);
    expect(cancelled.request_counts.completed).toBeLessThan(400);
    expect(await owner.batches.get.query({ id: created.id })).toMatchObject({
      status: "cancelled",
      request_counts: cancelled.request_counts,
    });
    const audit = await admin.audit.list.query({ action: "batches.cancel" });
    expect(audit.entries[0]).toMatchObject({
      actor: { username: "admin" },
      target: { type: "batch", id: created.id },
      details: { owner: "researcher", from: "in_progress" },
    });
  });
});
