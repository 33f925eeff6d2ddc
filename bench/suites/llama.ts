import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createPostgresDatabase } from "@switchyard/db/testing";
import { inheritedEnvironment } from "@switchyard/engines";
import { freePort } from "@switchyard/scheduler";
import { createParser } from "eventsource-parser";
import { type Row, round, type Suite } from "../lib";
import { child, SWITCHYARD_BIN, stop, waitFor } from "../procs";

/**
 * llama.cpp on the CPU (node-llama-cpp's prebuilt binary) with the generated 53 MB model
 * (`generated:bench-chat`: llama architecture, random F32 weights, so the text is gibberish but
 * the work per token is real). The same engine settings everywhere: 2 sequences at once and one
 * thread (llama.cpp's worker threads spin while they wait for each other; on this 2-core machine
 * 2 threads ran 4x slower than 1, and the other core is the gateway's and the client's).
 */
const WEIGHTS = "generated:bench-chat";
const PARALLEL = 2;
const THREADS = 1;
const CONTEXT = 4096;
const HOT = "llama/bench-chat";
/** Dynamic models of the same weights, one per cold-start run (each starts cold exactly once). */
const COLD_RUNS = 5;
const coldModel = (i: number) => `llama/bench-cold-${i + 1}`;
/** Closed-loop clients: twice the engine's sequences, so the engine always has the next request queued. */
const CLIENTS = 4;
const MAX_TOKENS = 64;
/** Engine alone and gateway alternate, ROUNDS times each, ROUND_SECONDS each. */
const ROUNDS = 2;
const ROUND_SECONDS = 12;
const BATCH_LINES = 120;
const MESSAGES = [{ role: "user", content: "Tell me a short story about the sea and a lighthouse" }];
const requestBody = (model: string, stream: boolean) => ({
  model,
  messages: MESSAGES,
  max_tokens: MAX_TOKENS,
  // Generate exactly max_tokens (the random model ends turns now and then): equal work per request.
  ignore_eos: true,
  temperature: 1,
  ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
});

const engineArgs = (port: number, alias: string) => [
  SWITCHYARD_BIN,
  "engine",
  "llama-cpp",
  "--model",
  WEIGHTS,
  "--alias",
  alias,
  "--port",
  String(port),
  "--ctx",
  String(CONTEXT),
  "--parallel",
  String(PARALLEL),
  "--threads",
  String(THREADS),
  "--gpu",
  "none",
  "--log-level",
  "silent",
];

interface Streamed {
  /** ms from sending to the first content token. */
  ttft: number;
  completionTokens: number;
}

/** One streamed chat completion: first content token, and the usage chunk's completion tokens. */
async function streamChat(url: string, model: string, authorization?: string): Promise<Streamed> {
  const start = performance.now();
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
    body: JSON.stringify(requestBody(model, true)),
  });
  if (!res.ok || !res.body) throw new Error(`chat to ${url} failed: ${res.status} ${await res.text()}`);
  let ttft: number | undefined;
  let completionTokens: number | undefined;
  const parser = createParser({
    onEvent(event) {
      if (event.data === "[DONE]") return;
      const chunk = JSON.parse(event.data) as {
        choices?: { delta?: { content?: string | null } }[];
        usage?: { completion_tokens: number } | null;
      };
      if (ttft === undefined && chunk.choices?.[0]?.delta?.content) ttft = performance.now() - start;
      if (chunk.usage) completionTokens = chunk.usage.completion_tokens;
    },
  });
  const decoder = new TextDecoder();
  const reader = res.body.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    parser.feed(decoder.decode(value, { stream: true }));
  }
  if (completionTokens === undefined) throw new Error(`no usage chunk from ${url}`);
  return { ttft: ttft ?? performance.now() - start, completionTokens };
}

/** Time from `start` to the first streamed content token (the stream is then dropped). */
async function firstToken(url: string, model: string, start: number, authorization?: string): Promise<number> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
    body: JSON.stringify({ ...requestBody(model, true), max_tokens: 4 }),
  });
  if (!res.ok || !res.body) throw new Error(`chat to ${url} failed: ${res.status} ${await res.text()}`);
  let at: number | undefined;
  const parser = createParser({
    onEvent(event) {
      if (at !== undefined || event.data === "[DONE]") return;
      const chunk = JSON.parse(event.data) as { choices?: { delta?: { content?: string | null } }[] };
      if (chunk.choices?.[0]?.delta?.content) at = performance.now();
    },
  });
  const decoder = new TextDecoder();
  const reader = res.body.getReader();
  while (at === undefined) {
    const { value, done } = await reader.read();
    if (done) throw new Error("stream ended before a token");
    parser.feed(decoder.decode(value, { stream: true }));
  }
  await reader.cancel();
  return at - start;
}

interface Throughput {
  tokensPerSecond: number;
  requests: number;
  tokens: number;
  seconds: number;
  ttftP50: number;
  errors: number;
}

/**
 * CLIENTS closed-loop streaming clients for `seconds`: completion tokens over the wall time
 * from the first request sent to the last answer ended (the stragglers after the deadline count,
 * as the batch's last answers do).
 */
async function measure(url: string, model: string, seconds: number, authorization?: string): Promise<Throughput> {
  const ttfts: number[] = [];
  let tokens = 0;
  let errors = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (performance.now() < deadline) {
        try {
          const r = await streamChat(url, model, authorization);
          tokens += r.completionTokens;
          ttfts.push(r.ttft);
        } catch (error) {
          errors++;
          process.stderr.write(`bench llama: ${(error as Error).message}\n`);
          if (errors > 20) throw error;
        }
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  return {
    tokensPerSecond: tokens / elapsed,
    requests: ttfts.length,
    tokens,
    seconds: elapsed,
    ttftP50: median(ttfts),
    errors,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** /health every 10 ms until 200 (503 while the weights load; refused before it listens). */
async function waitHealthy(url: string, deadline: number): Promise<void> {
  while (performance.now() < deadline) {
    try {
      if ((await fetch(`${url}/health`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${url} not healthy in time`);
}

/**
 * The engine started by hand, as the scheduler would: spawn to /health 200 (its load time),
 * then the first token of a request.
 */
async function engineColdStart(): Promise<{ health: number; firstToken: number }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const start = performance.now();
  // The environment the local launcher gives a model server, so both start the same process.
  const proc = spawn(process.execPath, engineArgs(port, "cold"), { stdio: "ignore", env: inheritedEnvironment({}) });
  try {
    await waitHealthy(url, start + 120_000);
    const health = performance.now() - start;
    return { health, firstToken: await firstToken(url, "cold", start) };
  } finally {
    proc.kill("SIGKILL");
  }
}

function config(shared: string): string {
  const engine = `{ type: llama-cpp-node, weights: ${WEIGHTS}, parallel: ${PARALLEL}, threads: ${THREADS}, gpu: none }`;
  const cold = Array.from(
    { length: COLD_RUNS },
    (_, i) => `  - { id: ${coldModel(i)}, cluster: bench, framework: llama-cpp, capabilities: [chat], placement: dynamic, gpus: 1, contextLength: ${CONTEXT}, expectedLoadTime: 30s, idleTtl: 10m, engine: ${engine} }`,
  );
  return `gateway:
  limits:
    user: { requestsPerMinute: 100000000, tokensPerMinute: 1000000000000, concurrentRequests: 100000 }
    model: { requestsPerMinute: 100000000, tokensPerMinute: 1000000000000 }
batch: { maxRunningBatches: 1 }
scheduler: { stopGrace: 1 }
clusters:
  - name: bench
    launcher: { type: local }
    nodes: [{ name: hot-1, gpus: 1, role: hot }, { name: rot-1, gpus: ${COLD_RUNS}, role: rotating }]
    frameworks: [llama-cpp]
    batch: { allowedDirs: ["${shared}"] }
models:
  - { id: ${HOT}, cluster: bench, framework: llama-cpp, capabilities: [chat, batch], placement: hot, node: hot-1, contextLength: ${CONTEXT}, expectedLoadTime: 30s, engine: ${engine} }
${cold.join("\n")}
`;
}

interface BatchRun {
  tokensPerSecond: number;
  seconds: number;
  outputTokens: number;
}

/** One batch of BATCH_LINES requests shaped as the clients' (not streamed) through serve's worker. */
async function runBatch(url: string, token: string, shared: string): Promise<BatchRun> {
  const input = path.join(shared, "llama-batch.jsonl");
  const line = (i: number) =>
    JSON.stringify({ custom_id: `line-${i}`, method: "POST", url: "/v1/chat/completions", body: requestBody(HOT, false) });
  writeFileSync(input, `${Array.from({ length: BATCH_LINES }, (_, i) => line(i)).join("\n")}\n`);
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const created = await fetch(`${url}/resource_server/v1/batches`, {
    method: "POST",
    headers,
    body: JSON.stringify({ model: HOT, input_file: input }),
  });
  const { batch_id: id } = (await created.json()) as { batch_id: string };
  if (!id) throw new Error(`batch not created: ${created.status}`);
  const started = Date.now();
  for (;;) {
    await new Promise((r) => setTimeout(r, 250));
    const batch = (await (await fetch(`${url}/resource_server/v1/batches/${id}`, { headers })).json()) as {
      status: string;
    };
    if (batch.status === "completed") break;
    if (batch.status !== "pending" && batch.status !== "running") throw new Error(`batch ended ${batch.status}`);
    if (Date.now() - started > 5 * 60_000) throw new Error("batch took over 5 minutes");
  }
  const result = (await (await fetch(`${url}/resource_server/v1/batches/${id}/result`, { headers })).json()) as {
    metrics: { response_time: number; num_responses: number };
  };
  if (result.metrics.num_responses !== BATCH_LINES) throw new Error(`only ${result.metrics.num_responses} answers`);
  // The OpenAI view of the batch carries its usage (output tokens = completion tokens).
  const openai = (await (await fetch(`${url}/v1/batches/${id}`, { headers })).json()) as {
    usage?: { output_tokens: number };
  };
  const outputTokens = openai.usage?.output_tokens;
  if (!outputTokens) throw new Error(`no usage in the batch object: ${JSON.stringify(openai)}`);
  const seconds = result.metrics.response_time;
  return { tokensPerSecond: outputTokens / seconds, seconds, outputTokens };
}

/**
 * llama.cpp (node-llama-cpp, CPU) with the generated 53 MB model: completion tokens/s of the
 * engine alone (a plain streaming client straight to it) against the same load through the
 * gateway (alternating rounds, so machine noise hits both) and a batch through serve's worker;
 * and a dynamic model's first token through the gateway against the engine started by hand.
 */
export const llama: Suite = {
  name: "llama",
  description: `llama.cpp on CPU, generated 53 MB random-weights model (${PARALLEL} sequences, ${THREADS} thread): engine alone vs gateway vs batch tokens/s; cold start vs the engine's own load time`,
  async run() {
    const dir = mkdtempSync(path.join(tmpdir(), "sy-bench-llama-"));
    const shared = path.join(dir, "shared");
    mkdirSync(shared);
    mkdirSync(path.join(dir, "data"));
    const pg = await createPostgresDatabase("sy_bench_llama");
    const enginePort = await freePort();
    const engineUrl = `http://127.0.0.1:${enginePort}`;
    // The first start also writes the model into the cache if it is not there yet.
    const engine: ChildProcess = child(process.execPath, engineArgs(enginePort, HOT));
    let serve: ChildProcess | undefined;
    try {
      await waitFor(`${engineUrl}/health`, {}, 180_000);
      const configFile = path.join(dir, "bench.yaml");
      writeFileSync(configFile, config(shared));
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      serve = child(
        process.execPath,
        [SWITCHYARD_BIN, "serve", "--port", String(port), "--data-dir", path.join(dir, "data"), "--config", configFile],
        {
          DATABASE_URL: pg.url,
          SWITCHYARD_ADMIN_PASSWORD: "bench-admin-password",
          SWITCHYARD_LOG_FORMAT: "json",
          SWITCHYARD_LOG_LEVEL: "warn",
        },
      );
      await waitFor(`${url}/health`);
      const grant = await fetch(`${url}/auth/token`, {
        method: "POST",
        body: new URLSearchParams({ grant_type: "password", username: "admin", password: "bench-admin-password" }),
      });
      const { access_token: token } = (await grant.json()) as { access_token: string };
      const created = await fetch(`${url}/v1/keys`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "bench", scopes: ["inference"] }),
      });
      const { key } = (await created.json()) as { key: string };
      if (!key) throw new Error(`no API key: ${created.status}`);
      const authorization = `Bearer ${key}`;
      // The hot model is live once the gateway lists it; then warm both paths up.
      await waitFor(`${url}/v1/models/${HOT}`, { headers: { authorization } }, 180_000);
      await measure(engineUrl, HOT, 3);
      await measure(url, HOT, 3, authorization);

      const alone: Throughput[] = [];
      const gateway: Throughput[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        alone.push(await measure(engineUrl, HOT, ROUND_SECONDS));
        gateway.push(await measure(url, HOT, ROUND_SECONDS, authorization));
      }
      const batch = await runBatch(url, token, shared);
      // Once more alone after the batch, so the baseline brackets it too.
      alone.push(await measure(engineUrl, HOT, ROUND_SECONDS));
      await stop(engine);

      const cold: { direct: { health: number; firstToken: number }; gateway: number }[] = [];
      for (let i = 0; i < COLD_RUNS; i++) {
        // Alternate which goes first, so neither always follows the other's leftovers.
        const viaGateway = () => firstToken(url, coldModel(i), performance.now(), authorization);
        if (i % 2 === 0) {
          const direct = await engineColdStart();
          cold.push({ direct, gateway: await viaGateway() });
        } else {
          const gateway = await viaGateway();
          cold.push({ direct: await engineColdStart(), gateway });
        }
      }

      const base = mean(alone.map((t) => t.tokensPerSecond));
      const gw = mean(gateway.map((t) => t.tokensPerSecond));
      const list = (ts: Throughput[]) => ts.map((t) => round(t.tokensPerSecond, 0)).join(", ");
      const perRequest = (ts: Throughput[]) =>
        round(ts.reduce((a, t) => a + t.tokens, 0) / ts.reduce((a, t) => a + t.requests, 0), 1);
      const errors = [...alone, ...gateway].reduce((a, t) => a + t.errors, 0);
      const baseline = `engine alone (plain streaming client straight to it), ${CLIENTS} clients`;
      const rows: Row[] = [
        {
          suite: "llama",
          case: `gateway (API key, streaming), ${CLIENTS} clients`,
          baseline,
          metric: "completion tokens/s",
          unit: "tokens/s",
          value: round(gw, 1),
          baselineValue: round(base, 1),
          ratio: round(gw / base, 3),
          note: `target >= 0.95; rounds of ${ROUND_SECONDS} s alternating: gateway ${list(gateway)} vs alone ${list(alone)} (last one after the batch); ${MAX_TOKENS} tokens a request (mean ${perRequest(gateway)} vs ${perRequest(alone)}); first token p50 ${round(median(gateway.map((t) => t.ttftP50)), 0)} vs ${round(median(alone.map((t) => t.ttftP50)), 0)} ms${errors ? `; errors ${errors}` : ""}`,
        },
        {
          suite: "llama",
          case: `${BATCH_LINES}-line batch through serve's batch worker`,
          baseline,
          metric: "completion tokens/s",
          unit: "tokens/s",
          value: round(batch.tokensPerSecond, 1),
          baselineValue: round(base, 1),
          ratio: round(batch.tokensPerSecond / base, 3),
          note: `target >= 0.95; ${batch.outputTokens} tokens in ${round(batch.seconds, 1)} s (the batch's response_time: running to completed)`,
        },
      ];
      const d = median(cold.map((c) => c.direct.firstToken));
      const g = median(cold.map((c) => c.gateway));
      rows.push({
        suite: "llama",
        case: "dynamic model, first request to first token through the gateway",
        baseline: "engine started by hand: spawn, /health 200 (10 ms polls), first token",
        metric: "ms",
        unit: "ms",
        value: round(g, 0),
        baselineValue: round(d, 0),
        difference: round(g - d, 0),
        note: `target < 300 ms added; medians of ${COLD_RUNS} runs, in turn (which goes first alternates): gateway ${cold.map((c) => round(c.gateway, 0)).join(", ")} vs by hand ${cold.map((c) => round(c.direct.firstToken, 0)).join(", ")} ms; the engine's load (spawn to /health 200) ${cold.map((c) => round(c.direct.health, 0)).join(", ")} ms`,
      });
      return rows;
    } finally {
      await stop(engine);
      if (serve) await stop(serve);
      await pg.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
