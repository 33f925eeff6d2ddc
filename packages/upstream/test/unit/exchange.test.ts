import { afterAll, afterEach, describe, expect, it } from "vitest";
import { BufferedExchange, classifyFailure, modelServerHeaders, Upstreams } from "../../src";
import { closedPort, startServer, type TestServer } from "./server";

const servers: TestServer[] = [];
const upstreams = new Upstreams({ connections: 4, connectTimeoutMs: 1000, timeoutMs: 5000, pruneEveryMs: 0 });
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(() => upstreams.close());

async function server(handle: Parameters<typeof startServer>[0]): Promise<TestServer> {
  const started = await startServer(handle);
  servers.push(started);
  return started;
}

function send(url: string, exchange: BufferedExchange, body = '{"model":"m"}', headersTimeout?: number): void {
  upstreams.pool(url).dispatch(
    {
      path: "/v1/chat/completions",
      method: "POST",
      headers: modelServerHeaders("req-1", "Bearer server-key", Buffer.byteLength(body)),
      body,
      ...(headersTimeout ? { headersTimeout } : {}),
    },
    exchange,
  );
}

describe("BufferedExchange", () => {
  it("collects status, headers and a body sent in pieces, and sends our headers only", async () => {
    const model = await server((_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "x-request-id": "upstream-7" });
      res.write('{"choices":');
      setTimeout(() => res.end('[],"usage":{"prompt_tokens":3}}'), 10);
    });
    const exchange = new BufferedExchange(performance.now());
    send(model.url, exchange);
    const answer = await exchange.done;
    expect(answer).toBe(exchange); // nothing allocated for the result
    expect(answer.status).toBe(200);
    expect(answer.headers["x-request-id"]).toBe("upstream-7");
    expect(answer.body.toString()).toBe('{"choices":[],"usage":{"prompt_tokens":3}}');
    expect(exchange.firstByteAt).toBeGreaterThanOrEqual(0);
    const [seen] = model.seen;
    expect(seen?.body).toBe('{"model":"m"}');
    expect(seen?.headers).toMatchObject({
      "content-type": "application/json",
      "content-length": "13",
      accept: "application/json",
      "x-request-id": "req-1",
      authorization: "Bearer server-key",
    });
  });

  it("collects an error answer and its Retry-After like any other", async () => {
    const model = await server((_req, res) => {
      res.writeHead(429, { "retry-after": "3" });
      res.end('{"error":{"message":"slow down"}}');
    });
    const exchange = new BufferedExchange();
    send(model.url, exchange);
    const answer = await exchange.done;
    expect(classifyFailure(answer)).toEqual({ kind: "transient", status: 429, retryAfterMs: 3000 });
    expect(answer.body.toString()).toContain("slow down");
    expect(new BufferedExchange().body.length).toBe(0);
  });

  it("is aborted before it starts or midway, and the server sees the connection go", async () => {
    let closed = 0;
    const model = await server((req, res) => {
      res.writeHead(200);
      res.write("{");
      req.socket.on("close", () => closed++);
    });
    const early = new BufferedExchange();
    const reason = new Error("the client went away");
    early.abort(reason);
    send(model.url, early);
    await expect(early.done).rejects.toBe(reason);

    const midway = new BufferedExchange();
    send(model.url, midway);
    while (midway.firstByteAt === null) await new Promise((resolve) => setTimeout(resolve, 5));
    midway.abort(reason);
    await expect(midway.done).rejects.toBe(reason);
    const deadline = Date.now() + 2000;
    while (closed === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(closed).toBe(1);
  });

  it("fails with what classifyFailure calls timeout and unreachable", async () => {
    const silent = await server(() => {}); // never answers
    const slow = new BufferedExchange();
    send(silent.url, slow, "{}", 100);
    const timedOut = await slow.done.catch((error: unknown) => error);
    expect(classifyFailure(timedOut).kind).toBe("timeout");

    const nobody = new BufferedExchange();
    send(`http://127.0.0.1:${await closedPort()}`, nobody);
    const refused = await nobody.done.catch((error: unknown) => error);
    expect(classifyFailure(refused).kind).toBe("unreachable");
  });
});

describe("modelServerHeaders", () => {
  it("sends the server's key only when there is one, and the length only when given", () => {
    expect(modelServerHeaders("r", undefined)).toEqual({ "content-type": "application/json", "x-request-id": "r" });
    expect(modelServerHeaders("r", "Bearer k", 5, "text/event-stream")).toEqual({
      "content-type": "application/json",
      "content-length": "5",
      accept: "text/event-stream",
      "x-request-id": "r",
      authorization: "Bearer k",
    });
  });
});
