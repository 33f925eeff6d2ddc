import { request } from "node:http";
import { testDrivers } from "@switchyard/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../harness";
import { serveControlPlane } from "./http";

const drivers = await testDrivers();
const LIMIT = 64 * 1024;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * POST to a procedure, declaring `declared` bytes (or sending chunked when undefined) and sending
 * `send` bytes of a JSON-looking body. Resolves with the answer as soon as it comes, whether or
 * not the body was all sent; rejects when none comes within 10 s.
 */
function post(url: string, token: string, send: number, declared?: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/trpc/keys.create`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        ...(declared === undefined ? { "transfer-encoding": "chunked" } : { "content-length": declared }),
      },
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error("no answer within 10 s"));
    }, 10_000);
    req.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => {
        body += chunk;
      });
      res.on("end", () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        req.destroy();
      });
    });
    req.on("error", () => {}); // the server may close the connection while we still send
    req.flushHeaders();
    const chunk = Buffer.alloc(16 * 1024, "a");
    let sent = 0;
    const pump = () => {
      while (sent < send && !req.destroyed) {
        const n = Math.min(chunk.length, send - sent);
        sent += n;
        if (!req.write(chunk.subarray(0, n))) {
          req.once("drain", pump);
          return;
        }
      }
      if (declared === undefined && !req.destroyed) req.end();
    };
    pump();
  });
}

describe.each(drivers)("the control plane over HTTP on %s", (driver) => {
  let h: Harness;
  let server: Awaited<ReturnType<typeof serveControlPlane>>;
  beforeAll(async () => {
    h = await startHarness(driver, { config: { controlPlane: { maxBodyBytes: LIMIT } } });
    server = await serveControlPlane(h);
  });
  afterAll(async () => {
    await server?.close();
    await h?.close();
  });

  it("a 150 MB body declared in Content-Length is refused with 413 before any of it is sent", async () => {
    const answer = await post(server.url, h.tokens.user, 0, 150 * 1024 * 1024);
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toEqual({
      error: {
        message: "The request body is larger than the limit of 64 KB.",
        type: "invalid_request_error",
        param: null,
        code: "payload_too_large",
      },
    });
  });

  it("a chunked body without a length is cut off at the limit with the same 413", async () => {
    const answer = await post(server.url, h.tokens.user, 4 * LIMIT);
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body).error.code).toBe("payload_too_large");
  });

  it("a body within the limit is served as before", async () => {
    const res = await fetch(`${server.url}/trpc/keys.create`, {
      method: "POST",
      headers: { authorization: `Bearer ${h.tokens.user}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "n".repeat(50), scopes: ["inference"] }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).result.data.key).toMatch(/^sy_/);
  });

  it("a page on another origin gets no cookies and no CORS grant from the control plane", async () => {
    const origin = "https://evil.example";
    const answers = [
      await fetch(`${server.url}/trpc/session.me`, { headers: { origin, authorization: `Bearer ${h.tokens.admin}` } }),
      await fetch(`${server.url}/trpc/users.list`, {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "GET", "access-control-request-headers": "authorization" },
      }),
      await fetch(`${server.url}/trpc/keys.create`, {
        method: "POST",
        headers: { origin, authorization: `Bearer ${h.tokens.user}`, "content-type": "application/json" },
        body: "{}",
      }),
    ];
    for (const res of answers) {
      const label = `${res.url} ${res.status}`;
      expect(res.headers.get("set-cookie"), label).toBeNull();
      for (const name of res.headers.keys()) expect(name, label).not.toMatch(/^access-control-/);
    }
  });
});
