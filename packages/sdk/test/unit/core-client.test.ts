import { afterEach, describe, expect, it, vi } from "vitest";
import { AuthenticationError, ModelNotReadyError, Switchyard, waitForModel } from "../../src/index";

const notReady = (retryAfter: number | null) =>
  new ModelNotReadyError({
    status: 503,
    message: "The model is starting.",
    code: "model_not_ready",
    type: "service_unavailable_error",
    param: null,
    retryAfter,
    requestId: null,
    body: { model_state: "starting" },
  });

describe("the cold-model wait", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("retries as Retry-After says, capped by maxIntervalMs, and returns the first success", async () => {
    vi.useFakeTimers();
    const answers: (number | null)[] = [120, null, 0];
    const waits: number[] = [];
    const result = waitForModel(
      async () => {
        if (answers.length) throw notReady(answers.shift() as number | null);
        return "answer";
      },
      {
        maxIntervalMs: 60_000,
        maxWaitMs: Number.POSITIVE_INFINITY,
        onWait: (_e, { retryInMs }) => waits.push(retryInMs),
      },
    );
    await vi.runAllTimersAsync();
    await expect(result).resolves.toBe("answer");
    // 120 s capped to 60 s; no Retry-After waits 5 s; 0 s waits at least 1 s.
    expect(waits).toEqual([60_000, 5_000, 1_000]);
  });

  it("gives up with the last ModelNotReadyError after maxWaitMs, and passes other errors at once", async () => {
    vi.useFakeTimers();
    let attempts = 0;
    const gaveUp = waitForModel(
      async () => {
        attempts++;
        throw notReady(10);
      },
      { maxWaitMs: 25_000 },
    );
    const settled = expect(gaveUp).rejects.toBeInstanceOf(ModelNotReadyError);
    await vi.runAllTimersAsync();
    await settled;
    expect(attempts).toBe(3); // at 0, 10 and 20 s; a third wait would pass 25 s
    await expect(
      waitForModel(async () => {
        throw new Error("other");
      }),
    ).rejects.toThrow("other");
  });

  it("ends when the signal aborts", async () => {
    const controller = new AbortController();
    const waiting = waitForModel(
      async () => {
        throw notReady(30);
      },
      { signal: controller.signal },
    );
    controller.abort(new Error("stopped"));
    await expect(waiting).rejects.toThrow("stopped");
  });
});

describe("the runtime-neutral client", () => {
  it("asks a token source before each request, and once more with the rejected token on token_expired", async () => {
    const seen: string[] = [];
    const asked: (string | undefined)[] = [];
    const fetcher = (async (_url: string, init: RequestInit) => {
      const auth = new Headers(init.headers).get("authorization") ?? "";
      seen.push(auth);
      if (auth === "Bearer old") {
        return new Response(JSON.stringify({ error: { message: "expired", code: "token_expired" } }), { status: 401 });
      }
      return new Response(JSON.stringify({ username: "ada" }), { status: 200 });
    }) as typeof fetch;
    const client = new Switchyard({
      baseURL: "http://switchyard.test/v1",
      apiKey: (rejected) => {
        asked.push(rejected);
        return rejected ? "new" : "old";
      },
      fetch: fetcher,
    });
    expect(client.baseURL).toBe("http://switchyard.test");
    await expect(client.me()).resolves.toEqual({ username: "ada" });
    expect(seen).toEqual(["Bearer old", "Bearer new"]);
    expect(asked).toEqual([undefined, "old"]);
  });

  it("does not retry a fixed key the server refused", async () => {
    let calls = 0;
    const fetcher = (async () => {
      calls++;
      return new Response(JSON.stringify({ error: { message: "expired", code: "token_expired" } }), { status: 401 });
    }) as typeof fetch;
    const client = new Switchyard({ baseURL: "http://switchyard.test", apiKey: "sy_fixed", fetch: fetcher });
    await expect(client.me()).rejects.toBeInstanceOf(AuthenticationError);
    expect(calls).toBe(1);
  });

  it("refuses an upload by path outside Node, and says what to pass instead", async () => {
    const client = new Switchyard({ baseURL: "http://switchyard.test", apiKey: "k", fetch: fetch });
    await expect(client.files.upload("/tmp/input.jsonl", { purpose: "batch" })).rejects.toThrow(
      /needs Node .*\{ filename, content \}/,
    );
  });
});
