import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayHarness, startGatewayHarness } from "../harness";

describe("what the logs keep of a request", () => {
  let h: GatewayHarness;

  beforeAll(async () => {
    h = await startGatewayHarness({ waitFor: ["org/fast"] });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("keys and tokens in headers or query strings never reach the log", async () => {
    const secrets = {
      query: "query-secret-4f1c",
      forged: "sy_forged0000secret0000key0000abcd",
      anthropic: "anthropic-style-secret-9a7e",
    };
    const chat = JSON.stringify({ model: "org/fast", messages: [{ role: "user", content: "hi" }], max_tokens: 1 });
    const post = (path: string, headers: Record<string, string>, body = chat) =>
      fetch(`${h.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
    const answers = await Promise.all([
      post(`/v1/chat/completions?api_key=${secrets.query}&token=${secrets.query}`, {
        authorization: `Bearer ${h.key}`,
      }),
      post("/v1/chat/completions", { authorization: `Bearer ${secrets.forged}` }),
      post(`/v1/messages?key=${secrets.query}`, { "x-api-key": secrets.anthropic }),
      post("/v1/embeddings", { authorization: `Bearer ${h.key}` }, "{not json"),
      fetch(`${h.url}/v1/nowhere?access_token=${secrets.query}`, { headers: { authorization: `Bearer ${h.key}` } }),
    ]);
    expect(answers.map((a) => a.status)).toEqual([200, 401, 401, 400, 404]);
    await Promise.all(answers.map((a) => a.text()));
    await new Promise((r) => setTimeout(r, 100)); // the access line is written when the response closes

    const lines = h.logs.map((l) => JSON.parse(l) as { msg?: string; path?: string });
    const access = lines.filter((l) => l.msg === "request");
    expect(access.map((l) => l.path)).toEqual(
      expect.arrayContaining(["/v1/chat/completions", "/v1/messages", "/v1/embeddings", "/v1/nowhere"]),
    );
    const everything = h.logs.join("\n");
    for (const secret of [h.key, secrets.query, secrets.forged, secrets.anthropic]) {
      expect(everything).not.toContain(secret);
    }
    expect(access.every((l) => !l.path?.includes("?"))).toBe(true);
  });
});
