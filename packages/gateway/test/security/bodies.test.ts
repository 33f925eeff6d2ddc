import { request } from "node:http";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayHarness, startGatewayHarness } from "../harness";

const MAX_BODY = 512 * 1024;

/** Deep nesting in a field the schemas let through to the model server. */
function nested(depth: number, open = "[", close = "]"): string {
  return open.repeat(depth) + close.repeat(depth);
}

/** Raw bytes to the gateway, as a hostile client would send them. */
async function send(h: GatewayHarness, route: string, body: string, key = h.key) {
  const res = await fetch(`${h.url}${route}`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body,
  });
  const text = await res.text();
  let json: { error?: { code?: string; param?: string | null } } | undefined;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

/** Whether the server answers before the client has sent the body it announced. */
function answeredBeforeBody(
  url: string,
  headers: Record<string, string>,
  announced: number | "chunked",
): Promise<{ status: number; sentBytes: number }> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const req = request({
      host: target.hostname,
      port: target.port,
      path: target.pathname,
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(announced === "chunked" ? {} : { "content-length": String(announced) }),
        ...headers,
      },
    });
    let sentBytes = 0;
    const piece = Buffer.alloc(16 * 1024, 0x20);
    req.on("response", (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, sentBytes });
      req.destroy();
    });
    req.on("error", (error) => {
      if (!req.destroyed) reject(error);
    });
    req.write('{"model":"org/fast","messages":[{"role":"user","content":"');
    req.write(piece);
    sentBytes += piece.length;
    // Hold the rest back: a server that waits for it (or buffers it) never answers.
    setTimeout(() => reject(new Error("no answer while the body was still being sent")), 20_000).unref();
  });
}

describe("hostile bodies: depth, size and unauthenticated uploads", () => {
  let h: GatewayHarness;

  beforeAll(async () => {
    h = await startGatewayHarness({
      gateway: {
        maxBodyBytes: MAX_BODY,
        limits: {
          user: { requestsPerMinute: 1_000_000, tokensPerMinute: 1_000_000_000 },
          model: { requestsPerMinute: 1_000_000, tokensPerMinute: 1_000_000_000 },
        },
      },
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("400 KB of nested [ with stream:true is a 400, and leaves no replica slot held", async () => {
    const body = `{"model":"org/chat","stream":true,"messages":[{"role":"user","content":"hi"}],"x":${nested(200_000)}}`;
    const res = await send(h, "/v1/chat/completions", body);
    expect(res.status).toBe(400);
    expect(res.json?.error).toMatchObject({ code: "invalid_body" });
    expect(res.text).toMatch(/nested at most 64 levels deep/);
    expect(h.replicaInFlight("org/chat")).toBe(0);
    expect(h.inFlight()).toBe(0);
    // The model still answers, and nothing of the refused request was kept.
    const ok = await h.client.chat.completions.create({
      model: "org/chat",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 1,
    });
    expect(ok.choices).toHaveLength(1);
    expect(h.replicaInFlight("org/chat")).toBe(0);
  });

  it("never answers 500 to any nesting depth or body size, and never leaves a slot held (fuzz)", async () => {
    const routes = ["/v1/chat/completions", "/v1/completions", "/v1/responses", "/v1/messages", "/v1/embeddings"];
    const base = {
      model: "org/fast",
      messages: [{ role: "user", content: "hi" }],
      prompt: "hi",
      input: "hi",
      max_tokens: 2,
    };
    const depth = fc.oneof(fc.integer({ min: 1, max: 80 }), fc.integer({ min: 80, max: 150_000 }));
    // Mostly fields the schemas pass through to the model server untouched, mostly streams (whose
    // payload is re-serialised), mostly well-formed: where deep nesting used to get furthest.
    const deep = fc
      .record({
        route: fc.constantFrom(...routes),
        depth,
        brackets: fc.constantFrom(["[", "]"], ['{"a":', "}"], ["[{}, [", "]]"]),
        field: fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom("x", "vendor_options") },
          { weight: 1, arbitrary: fc.constantFrom("messages", "prompt", "input", "tools", "metadata") },
        ),
        stream: fc.constantFrom(true, true, true, false),
        closed: fc.constantFrom(true, true, true, false),
      })
      .map(({ route, depth, brackets, field, stream, closed }) => {
        const [open, close] = brackets as [string, string];
        const value = open.repeat(depth) + (open.endsWith(":") ? "1" : "") + (closed ? close.repeat(depth) : "");
        return { route, body: JSON.stringify({ ...base, stream }).replace(/}$/, `,"${field}":${value}}`) };
      });
    const sized = fc
      .record({
        route: fc.constantFrom(...routes),
        size: fc.integer({ min: MAX_BODY - 2048, max: MAX_BODY + 2048 }),
        stream: fc.boolean(),
      })
      .map(({ route, size, stream }) => {
        const head = JSON.stringify({ ...base, stream, pad: "" });
        return { route, body: head.replace('"pad":""', `"pad":"${"a".repeat(Math.max(0, size - head.length))}"`) };
      });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof({ weight: 2, arbitrary: deep }, { weight: 1, arbitrary: sized }),
        async ({ route, body }) => {
          const res = await send(h, route, body);
          return res.status < 500 || [502, 503, 504].includes(res.status);
        },
      ),
      { numRuns: 100 },
    );
    expect(h.inFlight()).toBe(0);
    expect(h.replicaInFlight("org/fast")).toBe(0);
  });

  it("answers 401 to an unauthenticated large body before reading it", async () => {
    for (const announced of [MAX_BODY - 1, "chunked"] as const) {
      const anonymous = await answeredBeforeBody(`${h.url}/v1/chat/completions`, {}, announced);
      expect(anonymous.status).toBe(401);
      const forged = await answeredBeforeBody(
        `${h.url}/resource_server/lab/vllm/v1/chat/completions`,
        { authorization: "Bearer sy_forged_key_0000000000000000000000000000" },
        announced,
      );
      expect(forged.status).toBe(401);
    }
  });
});
