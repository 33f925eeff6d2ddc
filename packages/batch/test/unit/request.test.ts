import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { BatchSettingsSchema } from "@switchyard/core";
import type { Availability, Replica } from "@switchyard/scheduler";
import { Pool } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdaptiveConcurrency } from "../../src/concurrency";
import { BatchMetrics } from "../../src/metrics";
import { LineFormat } from "../../src/run/output-lines";
import { Progress } from "../../src/run/progress";
import { LineRequests } from "../../src/run/request";
import type { RunnerDeps } from "../../src/run/resources";
import { memoryResources } from "./fakes";

/** A Responses API answer: its token counts are `input_tokens` and `output_tokens`. */
const ANSWER = JSON.stringify({
  id: "resp_1",
  object: "response",
  output: [{ type: "message", content: [{ type: "output_text", text: "hi" }] }],
  usage: { input_tokens: 21, output_tokens: 5, total_tokens: 26 },
});

let server: Server;
let baseUrl: string;
const pool = new Map<string, Pool>();

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(ANSWER);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await Promise.all([...pool.values()].map((p) => p.destroy()));
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe("a batch line's request", () => {
  it("waits for a queued model, saying where it stands, then counts the endpoint's tokens", async () => {
    const res = memoryResources();
    Object.assign(res.batch, { endpoint: "/v1/responses", userId: "u1" });
    const waits: (string | null)[] = [];
    let progress: Progress | undefined;
    let asked = 0;
    const queued: Availability = {
      cluster: "lab",
      model: "org/batchy",
      status: "queued",
      deploymentId: "d1",
      baseUrl: null,
      queuePosition: 3,
      etaSeconds: 61.2,
      reason: null,
    };
    const scheduler = {
      ensureLive: async () => queued,
      // Cold on the first ask; live once the run has said what it waits for.
      acquire: (): Replica | undefined => {
        waits.push(progress?.waitingFor ?? null);
        return asked++ === 0 ? undefined : { deploymentId: "d1", baseUrl, release: () => {} };
      },
    };
    Object.assign(res.deps as object, {
      scheduler: scheduler as unknown as RunnerDeps["scheduler"],
      settings: BatchSettingsSchema.parse({}),
      metrics: new BatchMetrics(),
      pool: (url: string) => {
        if (!pool.has(url)) pool.set(url, new Pool(url));
        return pool.get(url) as Pool;
      },
    } satisfies Partial<RunnerDeps>);
    progress = new Progress(res, () => undefined);
    const requests = new LineRequests(res, {
      upstreamName: "org/batchy",
      limiter: new AdaptiveConcurrency(4, 8),
      format: new LineFormat(),
      progress,
    });

    const finished = await requests.send(
      0,
      { custom_id: "q0", body: { model: "org/batchy", input: "hi" } },
      {
        call: undefined,
      },
    );

    expect(waits).toEqual([null, "model org/batchy is queued (position 3 in the queue, ready in about 62 s)"]);
    expect(progress.waitingFor).toBeNull();
    expect(finished).toMatchObject({ ok: true, customId: "q0", promptTokens: 21, completionTokens: 5 });
    // Its usage travels with it, to be saved with the checkpoint that covers the line.
    expect(finished?.usage).toMatchObject({ status: 200, requestId: expect.any(String) });
  });
});
