import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { apiError } from "@switchyard/core";
import express from "express";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { errorHandler, named, notFound, RouteTable, readFormOrJson } from "../src";

describe("the route table", () => {
  it("refuses a protected route when no access guard is set", () => {
    const table = new RouteTable();
    const router = express.Router();
    table.add(router, { method: "GET", path: "/open", access: "public", summary: "" }, () => {});
    expect(() => table.add(router, { method: "GET", path: "/closed", access: "user", summary: "" }, () => {})).toThrow(
      /needs user access but no access guard is set/,
    );
  });

  it("takes a guard set later for the protected routes added after it, and refuses one set too late", () => {
    const table = new RouteTable();
    const router = express.Router();
    table.add(router, { method: "GET", path: "/open", access: "public", summary: "" }, () => {});
    const guarded: string[] = [];
    table.setGuard((spec) => {
      guarded.push(`${spec.access} ${spec.path}`);
      return (_req, _res, next) => next();
    });
    table.add(router, { method: "GET", path: "/closed", access: "user", summary: "" }, () => {});
    table.add(router, { method: "GET", path: "/root", access: "admin", summary: "" }, () => {});
    expect(guarded).toEqual(["user /closed", "admin /root"]);
    expect(() => table.setGuard(() => undefined)).toThrow(/must be set before protected routes are added/);
  });

  describe("over HTTP", () => {
    let url: string;
    const server = createServer();
    beforeAll(async () => {
      const app = express();
      const router = express.Router();
      const table = new RouteTable(() => (req, _res, next) => {
        if (req.headers.authorization !== "Bearer ok") throw apiError("missing_credentials", {});
        next();
      });
      table.add(router, { method: "GET", path: "/things/:id", access: "user", summary: "" }, (req, res) => {
        res.json({ id: req.params.id });
      });
      table.add(router, { method: "POST", path: "/form", access: "public", summary: "" }, async (req, res) => {
        res.json(await readFormOrJson(req, 100));
      });
      table.add(
        router,
        {
          method: "POST",
          path: "/make",
          access: "public",
          summary: "",
          body: { schema: named("Make", z.strictObject({ name: z.string(), count: z.number().int().default(1) })) },
          query: z.object({ dry: z.enum(["yes", "no"]).optional() }),
        },
        (_req, res, input) => {
          res.json({ name: input.body.name, count: input.body.count, dry: input.query.dry ?? null });
        },
      );
      table.add(
        router,
        {
          method: "POST",
          path: "/upload",
          access: "public",
          summary: "",
          body: { schema: named("Upload", z.object({ name: z.string() })), readBy: "handler" },
        },
        async (req, res, input) => {
          res.json({ table: input.body ?? null, raw: await readFormOrJson(req, 100) });
        },
      );
      app.use(router);
      app.use(notFound(table));
      app.use(errorHandler(pino({ level: "silent" })));
      server.on("request", app);
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it("guards protected routes and answers in the OpenAI error shape", async () => {
      const denied = await fetch(`${url}/things/7`);
      expect(denied.status).toBe(401);
      expect(await denied.json()).toMatchObject({
        error: { code: "missing_credentials", type: "authentication_error" },
      });
      const ok = await fetch(`${url}/things/7`, { headers: { authorization: "Bearer ok" } });
      expect(await ok.json()).toEqual({ id: "7" });
    });

    it("answers 405 with Allow for a known path, 404 for an unknown one", async () => {
      const wrong = await fetch(`${url}/things/7`, { method: "PUT" });
      expect(wrong.status).toBe(405);
      expect(wrong.headers.get("allow")).toBe("GET");
      expect((await fetch(`${url}/nothing`)).status).toBe(404);
    });

    it("validates a JSON body and the query before the handler, with the catalogue's 400 naming the field", async () => {
      const post = (path: string, body: string) =>
        fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body });
      const ok = await post("/make?dry=yes", '{"name":"a"}');
      expect(await ok.json()).toEqual({ name: "a", count: 1, dry: "yes" });
      const extra = await post("/make", '{"name":"a","colour":"red"}');
      expect(extra.status).toBe(400);
      expect(await extra.json()).toMatchObject({ error: { code: "invalid_field", param: "colour" } });
      const missing = await post("/make", "{}");
      expect(await missing.json()).toMatchObject({ error: { code: "missing_required_field", param: "name" } });
      const query = await post("/make?dry=maybe", '{"name":"a"}');
      expect(query.status).toBe(400);
      expect(await query.json()).toMatchObject({ error: { code: "invalid_field", param: "dry" } });
      const notJson = await post("/make", "{nope");
      expect(await notJson.json()).toMatchObject({ error: { code: "invalid_json" } });
      // A body its handler reads is left to the handler.
      const raw = await post("/upload", '{"other":1}');
      expect(await raw.json()).toEqual({ table: null, raw: { other: "1" } });
    });

    it("reads form and JSON bodies with a size cap and clear errors", async () => {
      const form = await fetch(`${url}/form`, { method: "POST", body: new URLSearchParams({ a: "1" }) });
      expect(await form.json()).toEqual({ a: "1" });
      const json = await fetch(`${url}/form`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: '{"a":2}',
      });
      expect(await json.json()).toEqual({ a: "2" });
      const big = await fetch(`${url}/form`, { method: "POST", body: "x".repeat(500) });
      expect(big.status).toBe(413);
      const xml = await fetch(`${url}/form`, { method: "POST", headers: { "content-type": "text/xml" }, body: "<a/>" });
      expect(xml.status).toBe(415);
      const bad = await fetch(`${url}/form`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "[1]",
      });
      expect(await bad.json()).toMatchObject({ error: { code: "invalid_body" } });
    });
  });
});
