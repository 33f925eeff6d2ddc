import { createServer } from "node:http";
import {
  ApiKeyListSchema,
  CreatedApiKeySchema,
  EndpointListSchema,
  JobsViewSchema,
  MeSchema,
  ModelObjectSchema,
} from "@switchyard/core";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  APIConnectionError,
  AuthenticationError,
  BadRequestError,
  LoginRequiredError,
  ModelNotReadyError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitError,
  Switchyard,
  SwitchyardSDKError,
  TokenStore,
} from "../src/node";
import { closedPort, freshHome, passwordGrant, removeTempDirs, type SdkServer, startSdkServer } from "./harness";

/** `@switchyard/sdk` as a TypeScript service would use it, against a real server. */
describe("the Switchyard client", () => {
  let h: SdkServer;
  let client: Switchyard;
  /** A token store holding ada's login, as `sy login` leaves it. */
  let store: TokenStore;

  async function storeLogin(target: TokenStore, expiresInMs?: number) {
    const tokens = await passwordGrant(h.url, "ada");
    await target.update((file) => {
      file.default_server = h.url;
      file.servers[h.url] = {
        username: "ada",
        user_id: "unused-by-the-client",
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        expires_at: new Date(Date.now() + (expiresInMs ?? tokens.expires_in * 1000)).toISOString(),
        logged_in_at: new Date().toISOString(),
        refreshed_at: null,
        client_id: "sy-cli",
      };
    });
    return tokens;
  }

  const catchError = async (promise: Promise<unknown>) =>
    promise.then(
      () => {
        throw new Error("expected an error");
      },
      (error: unknown) => error,
    );

  beforeAll(async () => {
    h = await startSdkServer();
    client = new Switchyard({ baseURL: h.url, apiKey: h.adaKey, env: {} });
    store = new TokenStore(freshHome().tokenFile);
    await storeLogin(store);
  });
  afterAll(async () => {
    await h?.close();
    removeTempDirs();
  });

  describe("credentials", () => {
    it("uses the apiKey argument, else SWITCHYARD_API_KEY, else the stored login", async () => {
      expect((await client.me()).authenticated_via).toBe("api_key");
      const fromEnv = new Switchyard({ baseURL: h.url, env: { SWITCHYARD_API_KEY: h.adaKey }, tokenStore: store });
      expect((await fromEnv.me()).api_key_id).toBeDefined();
      const fromStore = new Switchyard({ baseURL: h.url, env: {}, tokenStore: store });
      expect(fromStore.credentialSource).toBe("login");
      expect(await fromStore.me()).toMatchObject({ username: "ada", authenticated_via: "access_token" });
    });

    it("takes the server from SWITCHYARD_URL or the last login when baseURL is not given, and accepts a /v1 base URL", async () => {
      expect(new Switchyard({ env: {}, tokenStore: store }).baseURL).toBe(h.url);
      expect(new Switchyard({ env: { SWITCHYARD_URL: "http://10.1.2.3:8080/" }, tokenStore: store }).baseURL).toBe(
        "http://10.1.2.3:8080",
      );
      const v1 = new Switchyard({ baseURL: `${h.url}/v1`, apiKey: h.adaKey, env: {} });
      expect(v1.baseURL).toBe(h.url);
      expect((await v1.me()).username).toBe("ada");
    });

    it("refreshes a stored token that is about to expire, and stores the new one", async () => {
      const own = new TokenStore(freshHome().tokenFile);
      const first = await storeLogin(own, 60_000); // expires within the refresh margin
      const sy = new Switchyard({ baseURL: h.url, env: {}, tokenStore: own });
      const token = await sy.accessToken();
      expect(token).not.toBe(first.access_token);
      expect(own.get(h.url)?.access_token).toBe(token);
      expect(own.get(h.url)?.refresh_token).not.toBe(first.refresh_token);
      expect((await sy.me()).username).toBe("ada");
    });

    it("throws LoginRequiredError without credentials, and when the session was revoked", async () => {
      const nobody = new Switchyard({ baseURL: h.url, env: {}, tokenStore: freshHome().tokenFile });
      const error = await catchError(nobody.models.list());
      expect(error).toBeInstanceOf(LoginRequiredError);
      expect((error as LoginRequiredError).reason).toBe("not_logged_in");

      const own = new TokenStore(freshHome().tokenFile);
      const tokens = await storeLogin(own, 1000);
      await fetch(`${h.url}/auth/revoke`, {
        method: "POST",
        body: new URLSearchParams({ token: tokens.refresh_token }),
      });
      const revoked = await catchError(new Switchyard({ baseURL: h.url, env: {}, tokenStore: own }).me());
      expect(revoked).toBeInstanceOf(LoginRequiredError);
      expect((revoked as Error).message).toContain("sy login");
    });
  });

  describe("Switchyard's own routes", () => {
    it("lists models with status, queue position and ETA, filters by status, finds one by alias", async () => {
      const models = await client.models.list();
      for (const model of models) ModelObjectSchema.parse(model);
      expect(models.find((m) => m.id === "org/chat")).toMatchObject({ status: "live", queue_position: null });
      const offline = await client.models.list({ status: "offline" });
      expect(offline.map((m) => m.id)).toContain("org/glacial");
      expect(offline.every((m) => m.status === "offline")).toBe(true);
      expect((await client.models.retrieve("chatty")).id).toBe("org/chat");
      expect((await client.models.retrieve("org/embed")).capabilities).toEqual(["embedding"]);
    });

    it("gives the jobs view, the endpoint list and who am I in core's shapes", async () => {
      const jobs = JobsViewSchema.parse(await client.jobs("lab"));
      expect(jobs.running.find((j) => j.models.includes("org/chat"))).toMatchObject({ state: "live", node: "hot-1" });
      const endpoints = EndpointListSchema.parse(await client.endpoints());
      expect(endpoints.clusters.lab?.frameworks.infinity?.models).toEqual(["org/embed"]);
      expect(MeSchema.parse(await client.me())).toMatchObject({ username: "ada", scopes: ["inference", "batch"] });
    });

    it("manages the user's own keys with a stored login", async () => {
      const sy = new Switchyard({ baseURL: h.url, env: {}, tokenStore: store });
      const created = CreatedApiKeySchema.parse(
        await sy.keys.create({ name: "svc", scopes: ["inference"], expires_days: 7 }),
      );
      const listed = ApiKeyListSchema.parse({ object: "list", data: await sy.keys.list() });
      expect(listed.data.find((k) => k.id === created.id)).toMatchObject({ name: "svc", revoked_at: null });
      const withKey = new Switchyard({ baseURL: h.url, apiKey: created.key, env: {} });
      expect((await withKey.me()).api_key_id).toBe(created.id);
      expect((await sy.keys.revoke(created.id)).revoked_at).not.toBeNull();
    });
  });

  describe("typed errors from the catalogue", () => {
    it("carries status, code, param and the request id", async () => {
      const missing = await catchError(client.models.retrieve("acme/none"));
      expect(missing).toBeInstanceOf(NotFoundError);
      expect(missing).toMatchObject({ status: 404, code: "model_not_found", type: "invalid_request_error" });
      expect((missing as NotFoundError).requestId).toMatch(/^[0-9a-f-]{36}$/);

      const bad = await catchError(
        client.chat.completions.create({
          model: "org/chat",
          messages: [{ role: "user", content: 5 as unknown as string }],
        }),
      );
      expect(bad).toBeInstanceOf(BadRequestError);
      expect(bad).toMatchObject({ status: 400, code: "invalid_field", param: "messages[0].content" });

      const denied = await catchError(
        client.chat.completions.create({ model: "org/secret", messages: [{ role: "user", content: "hi" }] }),
      );
      expect(denied).toBeInstanceOf(PermissionDeniedError);
      expect(denied).toMatchObject({ status: 403, code: "model_access_denied" });

      const wrongKey = await catchError(new Switchyard({ baseURL: h.url, apiKey: "sy_nope", env: {} }).me());
      expect(wrongKey).toBeInstanceOf(AuthenticationError);
      expect(wrongKey).toMatchObject({ status: 401, code: "invalid_api_key" });
    });

    it("says what a cold model is doing, and when to retry", async () => {
      const error = await catchError(
        client.chat.completions.create({ model: "org/glacial", messages: [{ role: "user", content: "hi" }] }),
      );
      expect(error).toBeInstanceOf(ModelNotReadyError);
      const notReady = error as ModelNotReadyError;
      expect(notReady).toMatchObject({ status: 503, code: "model_not_ready" });
      expect(notReady.modelState).toBe("starting");
      expect(notReady.etaSeconds).toBeGreaterThan(100);
      expect(notReady.retryAfter).toBe(60);
      expect(notReady.queuePosition).toBeNull();
    });

    it("waits for a cold model when asked, as Retry-After says", async () => {
      const waits: string[] = [];
      const answer = await client.chat.completions.create(
        { model: "org/cold", messages: [{ role: "user", content: "wake up" }], max_tokens: 3 },
        {
          waitForModel: { maxWaitMs: 30_000, onWait: (e, { retryInMs }) => waits.push(`${e.modelState} ${retryInMs}`) },
        },
      );
      expect(answer.choices[0]?.message.content?.split(" ")).toHaveLength(3);
      expect(waits.length).toBeGreaterThan(0);
      expect(waits[0]).toMatch(/^starting \d+$/);
    });

    it("gives the rate limit's Retry-After", async () => {
      const body = { model: "org/limited", messages: [{ role: "user" as const, content: "hi" }], max_tokens: 1 };
      await client.chat.completions.create(body);
      const limited = await catchError(client.chat.completions.create(body));
      expect(limited).toBeInstanceOf(RateLimitError);
      expect(limited).toMatchObject({ status: 429, code: "rate_limit_requests" });
      expect((limited as RateLimitError).retryAfter).toBeGreaterThan(0);
    });

    it("tells an unreachable server apart from an error answer", async () => {
      const port = await closedPort();
      const error = await catchError(
        new Switchyard({ baseURL: `http://127.0.0.1:${port}`, apiKey: "sy_x", env: {} }).me(),
      );
      expect(error).toBeInstanceOf(APIConnectionError);
      expect((error as Error).message).toContain("connection refused");
    });
  });

  it("says so when the address answers, but not like a Switchyard server", async () => {
    const other = createServer((_req, res) =>
      res.writeHead(200, { "content-type": "text/html" }).end("<html>hello</html>"),
    );
    await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = other.address() as { port: number };
      const error = await catchError(
        new Switchyard({ baseURL: `http://127.0.0.1:${port}`, apiKey: "sy_x", env: {} }).me(),
      );
      expect(error).toBeInstanceOf(SwitchyardSDKError);
      expect((error as Error).message).toBe(
        `http://127.0.0.1:${port} answered GET /v1/me with something that is not JSON; is it a Switchyard server? (<html>hello</html>)`,
      );
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });

  describe("inference", () => {
    it("streams a chat completion chunk by chunk", async () => {
      const stream = await client.chat.completions.stream({
        model: "org/chat",
        messages: [{ role: "user", content: "stream please" }],
        max_tokens: 8,
      });
      expect(stream.response.headers.get("content-type")).toContain("text/event-stream");
      let text = "";
      let chunks = 0;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta?.content ?? "";
        chunks++;
      }
      expect(chunks).toBeGreaterThanOrEqual(8);
      expect(text.trim().split(" ")).toHaveLength(8);
    });

    it("stops the upstream generation when the caller aborts", async () => {
      const controller = new AbortController();
      const stream = await client.chat.completions.stream(
        { model: "org/slow", messages: [{ role: "user", content: "a long one" }] },
        { signal: controller.signal },
      );
      let seen = 0;
      const error = await catchError(
        (async () => {
          for await (const _ of stream) if (++seen === 2) controller.abort();
        })(),
      );
      expect((error as Error).name).toBe("AbortError");
      expect(seen).toBe(2);
    });

    it("embeds", async () => {
      const answer = await client.embeddings.create({ model: "org/embed", input: ["a", "b", "c"] });
      expect(answer.data).toHaveLength(3);
      expect(answer.data[0]?.embedding).toHaveLength(16);
    });
  });

  describe("openai()", () => {
    it("returns an openai client on <server>/v1 that uses the stored login and keeps its token fresh", async () => {
      const own = new TokenStore(freshHome().tokenFile);
      const first = await storeLogin(own, 60_000);
      const sy = new Switchyard({ baseURL: h.url, env: {}, tokenStore: own });
      const openai = await sy.openai({ maxRetries: 0 });
      expect(openai).toBeInstanceOf(OpenAI);
      expect(openai.baseURL).toBe(`${h.url}/v1`);
      const answer = await openai.chat.completions.create({
        model: "org/chat",
        messages: [{ role: "user", content: "hi" }],
        max_tokens: 2,
      });
      expect(answer.usage?.completion_tokens).toBe(2);
      // The token was about to expire: the client refreshed it before the request.
      expect(own.get(h.url)?.access_token).not.toBe(first.access_token);

      const stream = await openai.chat.completions.create({
        model: "org/chat",
        messages: [{ role: "user", content: "hi" }],
        max_tokens: 3,
        stream: true,
      });
      let text = "";
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
      expect(text.trim().split(" ")).toHaveLength(3);

      const error = await catchError(openai.embeddings.create({ model: "org/chat", input: "x" }));
      expect(error).toBeInstanceOf(OpenAI.APIError);
      expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe("capability_not_supported");
    });
  });
});
