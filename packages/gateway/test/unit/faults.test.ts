import type { ServerResponse } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { deadReplica, type ModelServer, type ProxyLab, startModelServer, startProxyLab, until } from "./fakes";

/** Replicas that die, hang or come back, as the request path sees them. */

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((thing) => thing.close()));
});

async function lab(baseUrls: string[], gateway?: Parameters<typeof startProxyLab>[1]): Promise<ProxyLab> {
  const started = await startProxyLab(baseUrls, gateway);
  open.push(started);
  return started;
}

async function modelServer(answer: Parameters<typeof startModelServer>[0]): Promise<ModelServer> {
  const started = await startModelServer(answer);
  open.push(started);
  return started;
}

const ask = (url: string, content = "hi", stream = false) =>
  fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "org/chat", stream, messages: [{ role: "user", content }] }),
  });

const ANSWER = JSON.stringify({
  id: "chatcmpl-1",
  object: "chat.completion",
  choices: [{ index: 0, message: { role: "assistant", content: "Hello!" }, finish_reason: "stop" }],
  usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 },
});

function answerOk(res: ServerResponse): void {
  res.writeHead(200, { "content-type": "application/json" });
  res.end(ANSWER);
}

describe("a replica that dies", () => {
  it("holds a request whose only replica is gone until a replacement is live, then sends it there", async () => {
    const dead = await deadReplica();
    const gw = await lab([dead], { holdSeconds: 5 });
    const replacement = await modelServer(answerOk);
    const asked = Date.now();
    // The replacement goes live a little after the request found its replica gone.
    const comes = setTimeout(() => gw.replicas.add(replacement.url), 300);
    const answer = await ask(gw.url);
    clearTimeout(comes);
    expect(answer.status).toBe(200);
    expect(await answer.text()).toBe(ANSWER);
    expect(Date.now() - asked).toBeGreaterThanOrEqual(250); // held, not failed
    expect(gw.replicas.acquired).toEqual([dead, replacement.url]);
    // The scheduler heard of the dead replica at once, and of the one that answered.
    expect(gw.replicas.reports).toEqual(["replica-1 unreachable", "replica-2 answered"]);
    expect(gw.records).toEqual([expect.objectContaining({ status: 200, promptTokens: 7 })]);
    expect(gw.replicas.inFlight).toBe(0);
    expect(gw.userInFlight()).toBe(0);
  });

  it("counts a held request as demand for the model while it waits, and no longer once it is served", async () => {
    const dead = await deadReplica();
    const gw = await lab([dead], { holdSeconds: 5 });
    const replacement = await modelServer(answerOk);
    const answer = ask(gw.url);
    // Demand is what adds replicas: a request held for a model with none to take it is demand.
    await until(() => gw.replicas.demandHeld === 1);
    gw.replicas.add(replacement.url);
    expect((await answer).status).toBe(200);
    expect(gw.replicas.demandHeld).toBe(0);
  });

  it("answers 503 with the model's state, not 502, when nothing is live before holdSeconds is over", async () => {
    const dead = await deadReplica();
    const gw = await lab([dead], { holdSeconds: 0.4 });
    const asked = Date.now();
    const answer = await ask(gw.url);
    expect(answer.status).toBe(503);
    expect(Date.now() - asked).toBeGreaterThanOrEqual(350);
    expect(await answer.json()).toMatchObject({
      error: { code: "model_not_ready", model_state: "queued", queue_position: 2 },
    });
    expect(gw.replicas.reports).toEqual(["replica-1 unreachable"]);
    expect(gw.records).toEqual([expect.objectContaining({ status: 503 })]);
    expect(gw.replicas.inFlight).toBe(0);
    expect(gw.userInFlight()).toBe(0);
  });

  it("says no server answers, not just 'live', when the model's only live replica is dead at the end of the hold", async () => {
    const dead = await deadReplica();
    const gw = await lab([dead], { holdSeconds: 0.3 });
    gw.replicas.deadStayLive = true;
    const answer = await ask(gw.url);
    expect(answer.status).toBe(503);
    const body = (await answer.json()) as { error: { code: string; model_state: string; message: string } };
    expect(body.error).toMatchObject({ code: "model_not_ready", model_state: "live" });
    expect(body.error.message).toBe(
      "Model 'org/chat' is live but none of its servers answers (a health check or a replacement is awaited). Retry in 10 s.",
    );
  });

  it("ends a stream whose model server dies mid-way with an error event, and reports the replica", async () => {
    const server = await modelServer((res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(
        `data: ${JSON.stringify({ object: "chat.completion.chunk", choices: [{ index: 0, delta: { content: "Hel" } }] })}\n\n`,
      );
      setTimeout(() => res.socket?.destroy(), 50); // killed mid-answer
    });
    const gw = await lab([server.url], { holdSeconds: 5 });
    const answer = await ask(gw.url, "hi", true);
    expect(answer.status).toBe(200);
    const text = await answer.text(); // the stream ends: the client is not left hanging
    const events = text.split("\n\n").filter(Boolean);
    expect(events[0]).toContain('"content":"Hel"');
    expect(JSON.parse((events[1] as string).replace(/^data: /, ""))).toMatchObject({
      error: { code: "upstream_error", message: expect.stringContaining("org/chat") },
    });
    expect(events).toHaveLength(2);
    expect(server.seen).toHaveLength(1); // a stream that started is never sent again
    expect(gw.replicas.reports).toEqual(["replica-1 unreachable"]);
    await until(() => gw.records.length === 1);
    expect(gw.records[0]).toMatchObject({ status: 502, completionTokens: 1, stream: true });
  });
});

describe("a replica that hangs", () => {
  it("answers 504 when the timeout fires, not retried, and tells the scheduler of each timeout", async () => {
    const server = await modelServer((res, body) => {
      const content = (body.messages as { content: string }[])[0]?.content;
      if (content !== "hang") answerOk(res);
    });
    const gw = await lab([server.url], { upstreamTimeout: "200ms" });
    expect((await ask(gw.url, "hang")).status).toBe(504);
    expect((await ask(gw.url)).status).toBe(200);
    expect(server.seen).toHaveLength(2); // the timed-out request was not sent twice
    expect(gw.replicas.reports).toEqual(["replica-1 timeout", "replica-1 answered"]);
  });
});
