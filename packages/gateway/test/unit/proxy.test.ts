import { afterEach, describe, expect, it } from "vitest";
import { deadReplica, type ModelServer, type ProxyLab, startModelServer, startProxyLab } from "./fakes";

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

const ask = (url: string, content = "hi") =>
  fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "org/chat", messages: [{ role: "user", content }] }),
  });

const ANSWER = JSON.stringify({
  id: "chatcmpl-1",
  object: "chat.completion",
  choices: [{ index: 0, message: { role: "assistant", content: "Hello!" }, finish_reason: "stop" }],
  usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 },
});

function answerJson(status: number, text: string) {
  return (res: import("node:http").ServerResponse) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(text);
  };
}

describe("the proxy path, buffered", () => {
  it("passes a chat answer through as the model server wrote it and records its tokens", async () => {
    const server = await modelServer(answerJson(200, ANSWER));
    const gw = await lab([server.url]);
    const answer = await ask(gw.url);
    expect(answer.status).toBe(200);
    expect(await answer.text()).toBe(ANSWER);
    // The model server gets its own key, never the client's credential.
    expect(server.seen[0]?.headers.authorization).toBe("Bearer replica-key");
    expect(gw.records).toEqual([
      expect.objectContaining({ status: 200, promptTokens: 7, completionTokens: 3, stream: false, model: "org/chat" }),
    ]);
    expect(gw.replicas.inFlight).toBe(0);
    expect(gw.userInFlight()).toBe(0);
  });

  it("answers a model server that does not answer in time with 504 upstream_timeout", async () => {
    const server = await modelServer(() => {}); // takes the request, never answers
    const gw = await lab([server.url], { upstreamTimeout: "300ms" });
    const answer = await ask(gw.url);
    expect(answer.status).toBe(504);
    expect(await answer.json()).toMatchObject({
      error: {
        code: "upstream_timeout",
        type: "timeout_error",
        message: expect.stringContaining("org/chat' did not answer within"),
      },
    });
    expect(gw.records).toEqual([expect.objectContaining({ status: 504 })]);
    expect(gw.replicas.inFlight).toBe(0);
  });

  it("sends the request once more to the next replica when the first cannot be reached", async () => {
    const dead = await deadReplica();
    const server = await modelServer(answerJson(200, ANSWER));
    const gw = await lab([dead, server.url]);
    const answer = await ask(gw.url);
    expect(answer.status).toBe(200);
    expect(await answer.text()).toBe(ANSWER);
    expect(gw.replicas.acquired).toEqual([dead, server.url]);
    expect(server.seen).toHaveLength(1);
    expect(gw.replicas.inFlight).toBe(0);
    expect(gw.records).toEqual([expect.objectContaining({ status: 200, promptTokens: 7 })]);
  });

  it("passes a model server's 4xx back in OpenAI's shape: its own when it has one, else wrapped", async () => {
    const own = JSON.stringify({
      error: { message: "max_tokens is too large", type: "invalid_request_error", param: "max_tokens", code: null },
    });
    const server = await modelServer((res, body) => {
      const content = (body.messages as { content: string }[])[0]?.content;
      if (content === "openai") answerJson(400, own)(res);
      else answerJson(400, JSON.stringify({ detail: "prompt is too long" }))(res);
    });
    const gw = await lab([server.url]);

    const wrapped = await ask(gw.url, "fastapi");
    expect(wrapped.status).toBe(400);
    expect(await wrapped.json()).toEqual({
      error: expect.objectContaining({
        code: "model_server_rejected",
        type: "invalid_request_error",
        message: expect.stringContaining("prompt is too long"),
      }),
    });

    const passed = await ask(gw.url, "openai");
    expect(passed.status).toBe(400);
    expect(await passed.text()).toBe(own);
    expect(gw.records.map((r) => r.status)).toEqual([400, 400]);
    expect(gw.replicas.acquired).toHaveLength(2); // a refusal is not retried
  });

  it("answers 503 model_not_ready with where a cold model stands when the hold is over", async () => {
    const gw = await lab([], { holdSeconds: 0 });
    const answer = await ask(gw.url);
    expect(answer.status).toBe(503);
    expect(answer.headers.get("retry-after")).toBe("40");
    expect(await answer.json()).toMatchObject({
      error: {
        code: "model_not_ready",
        message: "Model 'org/chat' is queued (position 2 in the queue, ready in about 40 s). Retry in 40 s.",
        model_state: "queued",
        queue_position: 2,
      },
    });
    expect(gw.records).toEqual([]); // nothing reached a model server
    expect(gw.userInFlight()).toBe(0);
  });
});
