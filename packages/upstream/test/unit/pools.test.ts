import { afterEach, describe, expect, it } from "vitest";
import { Upstreams } from "../../src";
import { startServer, type TestServer } from "./server";

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe("Upstreams", () => {
  it("keeps one pool per model server and closes the ones idle past idleMs", async () => {
    let now = 1_000_000;
    const upstreams = new Upstreams({
      connections: 4,
      connectTimeoutMs: 1000,
      idleMs: 60_000,
      pruneEveryMs: 0,
      now: () => now,
    });
    const a = upstreams.pool("http://127.0.0.1:1");
    expect(upstreams.pool("http://127.0.0.1:1")).toBe(a);
    const b = upstreams.pool("http://127.0.0.1:2");
    expect(b).not.toBe(a);
    expect(upstreams.size).toBe(2);

    now += 50_000;
    upstreams.pool("http://127.0.0.1:2"); // b is used again, a is not
    now += 20_000; // a: 70 s idle, b: 20 s
    upstreams.prune();
    expect(upstreams.size).toBe(1);
    expect(a.closed).toBe(true);
    expect(b.closed).toBe(false);
    // A model server seen again after its pool was pruned gets a new one.
    const again = upstreams.pool("http://127.0.0.1:1");
    expect(again).not.toBe(a);
    expect(again.closed).toBe(false);

    await upstreams.close();
    expect(upstreams.size).toBe(0);
    expect(b.destroyed).toBe(true);
    expect(again.destroyed).toBe(true);
  });

  it("prunes on its own timer, and a pool in use is not pruned", async () => {
    const upstreams = new Upstreams({ connections: 1, connectTimeoutMs: 1000, idleMs: 30, pruneEveryMs: 10 });
    const idle = upstreams.pool("http://127.0.0.1:1");
    const deadline = Date.now() + 2000;
    while (!idle.closed && Date.now() < deadline) {
      upstreams.pool("http://127.0.0.1:2");
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(idle.closed).toBe(true);
    expect(upstreams.size).toBe(1);
    await upstreams.close();
  });

  it("sends one server's requests over its kept-alive connection", async () => {
    const server = await startServer((_req, res) => res.end("ok"));
    servers.push(server);
    const upstreams = new Upstreams({ connections: 1, connectTimeoutMs: 1000, timeoutMs: 5000, pruneEveryMs: 0 });
    for (let i = 0; i < 3; i++) {
      const answer = await upstreams.pool(server.url).request({ path: "/v1/x", method: "GET" });
      expect(await answer.body.text()).toBe("ok");
    }
    expect(server.seen).toHaveLength(3);
    expect(new Set(server.seen.map((s) => s.remotePort)).size).toBe(1);
    await upstreams.close();
  });
});
