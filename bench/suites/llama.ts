import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
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
const ROUNDS = 4;
const ROUND_SECONDS = 8;
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

const engineArgs = (port: number, alias: string, logLevel = "silent") => [
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
  logLevel,
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
 * What an engine's own log says about its start (epoch ms): when it listened, when the model was
 * loaded (/health 200 from then), and its load_ms (loading the binary, the weights, the context).
 */
interface EngineStart {
  listening: number;
  loaded: number;
  loadMs: number;
}

function parseEngineLog(text: string, model: string): EngineStart | undefined {
  let listening: number | undefined;
  let loaded: EngineStart | undefined;
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    let entry: { time?: string; msg?: string; model?: string; load_ms?: number };
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    if (entry.model !== model || !entry.time) continue;
    if (entry.msg?.startsWith("llama.cpp engine server")) listening = Date.parse(entry.time);
    if (entry.msg?.startsWith("llama.cpp model loaded") && listening !== undefined)
      loaded = { listening, loaded: Date.parse(entry.time), loadMs: entry.load_ms ?? Number.NaN };
  }
  return loaded;
}

/** A cold start, timed from the request (or the spawn) and broken down by the engine's own log. */
interface ColdRun {
  /** ms from the request (or spawn) to the first token. */
  total: number;
  /** ms from the request (or spawn) until the engine listened: launch and Node's start. */
  toListening: number;
  /** The engine's own load_ms. */
  loadMs: number;
  /** ms from the engine's model loaded to the first token: noticing it is ready, routing, the token. */
  afterLoaded: number;
}

function coldRun(sentAt: number, total: number, start: EngineStart): ColdRun {
  return {
    total,
    toListening: start.listening - sentAt,
    loadMs: start.loadMs,
    afterLoaded: sentAt + total - start.loaded,
  };
}

/**
 * The engine started by hand, as the scheduler would (the environment the local launcher gives
 * a model server): spawn, /health every 10 ms until 200, then the first token of a request.
 */
async function engineColdStart(): Promise<ColdRun & { health: number }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const sentAt = Date.now();
  const start = performance.now();
  const proc = spawn(process.execPath, engineArgs(port, "cold", "info"), {
    stdio: ["ignore", "pipe", "pipe"],
    env: inheritedEnvironment({}),
  });
  let log = "";
  proc.stdout?.on("data", (d) => (log += d));
  proc.stderr?.on("data", (d) => (log += d));
  try {
    await waitHealthy(url, start + 120_000);
    const health = performance.now() - start;
    const total = await firstToken(url, "cold", start);
    const parsed = parseEngineLog(log, "cold");
    if (!parsed) throw new Error(`no start in the engine's log: ${log.slice(-2000)}`);
    return { ...coldRun(sentAt, total, parsed), health };
  } finally {
    proc.kill("SIGKILL");
  }
}

/** A dynamic model's first request through the gateway, broken down by its engine's log in serve's data dir. */
async function gatewayColdStart(url: string, model: string, logDir: string, authorization: string): Promise<ColdRun> {
  const sentAt = Date.now();
  const total = await firstToken(url, model, performance.now(), authorization);
  for (const file of readdirSync(logDir)) {
    const parsed = parseEngineLog(readFileSync(path.join(logDir, file), "utf8"), model);
    if (parsed) return coldRun(sentAt, total, parsed);
  }
  throw new Error(`no engine log for ${model} in ${logDir}`);
}

function config(shared: string): string {
  const engine = `{ type: llama-cpp-node, weights: ${WEIGHTS}, parallel: ${PARALLEL}, threads: ${THREADS}, gpu: none }`;
  const cold = Array.from(
    { length: COLD_RUNS },
    (_, i) =>
      `  - { id: ${coldModel(i)}, cluster: bench, framework: llama-cpp, capabilities: [chat], placement: dynamic, gpus: 1, contextLength: ${CONTEXT}, expectedLoadTime: 30s, idleTtl: 10m, engine: ${engine} }`,
  );
  return `gateway:
  limits:
    user: { requestsPerMinute: 100000000, tokensPerMinute: 1000000000000, concurrentRequests: 100000 }
    model: { requestsPerMinute: 100000000, tokensPerMinute: 1000000000000 }
batch: { maxRunningBatches: 1 }
metrics: { public: true }
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
  /** Completion tokens/s from the first answer to the last. */
  tokensPerSecond: number;
  /** Seconds from the first answer to the last. */
  seconds: number;
  outputTokens: number;
  /** The batch's own response_time (running to completed: reading, ramping up, the last checkpoint). */
  responseTime: number;
  /** The median and largest concurrency limit the batch set itself while it ran. */
  concurrency: [number, number];
  /** CPU seconds serve used during the batch. */
  serveCpu: number;
}

/** CPU seconds a process has used (user + system; Linux /proc, 100 ticks a second). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Batch lines of HOT answered so far, from serve's /metrics (counted as each answer lands). */
async function batchProgress(url: string): Promise<{ done: number; concurrency: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let done = 0;
  let concurrency = 0;
  for (const m of text.matchAll(/^(switchyard_batch_requests_total|switchyard_batch_concurrency)\{([^}]*)\} (\d+)/gm)) {
    const labels = m[2] ?? "";
    if (!labels.includes(`model="${HOT}"`)) continue;
    if (m[1] === "switchyard_batch_concurrency") concurrency = Number(m[3]);
    else if (labels.includes('outcome="completed"')) done += Number(m[3]);
  }
  return { done, concurrency };
}

/** One batch of BATCH_LINES requests shaped as the clients' (not streamed) through serve's worker. */
async function runBatch(url: string, token: string, shared: string, servePid: number): Promise<BatchRun> {
  const cpuBefore = cpuSeconds(servePid);
  const input = path.join(shared, "llama-batch.jsonl");
  const line = (i: number) =>
    JSON.stringify({
      custom_id: `line-${i}`,
      method: "POST",
      url: "/v1/chat/completions",
      body: requestBody(HOT, false),
    });
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
  // Poll answers every 100 ms: when the first and the last landed.
  let first: { at: number; done: number } | undefined;
  let last: number | undefined;
  const concurrency: number[] = [];
  const watching = (async () => {
    while (last === undefined && Date.now() - started < 5 * 60_000) {
      const { done, concurrency: now } = await batchProgress(url);
      const at = performance.now();
      if (first === undefined && done > 0) first = { at, done };
      if (first !== undefined && done < BATCH_LINES) concurrency.push(now);
      if (done >= BATCH_LINES) last = at;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
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
  await watching;
  if (!first || last === undefined || first.done >= BATCH_LINES)
    throw new Error("the batch's answers were not seen landing");
  // The OpenAI view of the batch carries its usage (output tokens = completion tokens).
  const openai = (await (await fetch(`${url}/v1/batches/${id}`, { headers })).json()) as {
    usage?: { output_tokens: number };
  };
  const outputTokens = openai.usage?.output_tokens;
  if (!outputTokens) throw new Error(`no usage in the batch object: ${JSON.stringify(openai)}`);
  // Every line generates the same tokens (ignore_eos): those of the lines after the first sample.
  const seconds = (last - first.at) / 1000;
  const tokens = (outputTokens * (BATCH_LINES - first.done)) / BATCH_LINES;
  return {
    tokensPerSecond: tokens / seconds,
    seconds,
    outputTokens,
    responseTime: result.metrics.response_time,
    concurrency: [median(concurrency), Math.max(...concurrency)],
    serveCpu: cpuSeconds(servePid) - cpuBefore,
  };
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

      const loadBefore = loadavg()[0] as number;
      const alone: Throughput[] = [];
      const gateway: Throughput[] = [];
      const servePid = serve.pid as number;
      let gatewayCpu = 0;
      for (let i = 0; i < ROUNDS; i++) {
        alone.push(await measure(engineUrl, HOT, ROUND_SECONDS));
        const cpuBefore = cpuSeconds(servePid);
        gateway.push(await measure(url, HOT, ROUND_SECONDS, authorization));
        gatewayCpu += cpuSeconds(servePid) - cpuBefore;
      }
      const batch = await runBatch(url, token, shared, servePid);
      // Once more alone after the batch, so the baseline brackets it too.
      alone.push(await measure(engineUrl, HOT, ROUND_SECONDS));
      const loadAfter = loadavg()[0] as number;
      await stop(engine);

      const cold: { direct: ColdRun & { health: number }; gateway: ColdRun }[] = [];
      const logDir = path.join(dir, "data", "logs");
      for (let i = 0; i < COLD_RUNS; i++) {
        // Alternate which goes first, so neither always follows the other's leftovers.
        const viaGateway = () => gatewayColdStart(url, coldModel(i), logDir, authorization);
        if (i % 2 === 0) {
          const direct = await engineColdStart();
          cold.push({ direct, gateway: await viaGateway() });
        } else {
          const gateway = await viaGateway();
          cold.push({ direct: await engineColdStart(), gateway });
        }
      }

      // Tokens over seconds of the paired rounds; the batch against the rounds just before and after it.
      const rate = (ts: Throughput[]) => ts.reduce((a, t) => a + t.tokens, 0) / ts.reduce((a, t) => a + t.seconds, 0);
      const paired = alone.slice(0, ROUNDS);
      const base = rate(paired);
      const gw = rate(gateway);
      const pairRatios = gateway.map((t, i) => round(t.tokensPerSecond / (paired[i] as Throughput).tokensPerSecond, 2));
      const around = alone.slice(ROUNDS - 1);
      const batchBase = rate(around);
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
          note: `target >= 0.95; ${ROUNDS} rounds of ${ROUND_SECONDS} s each, alternating: gateway ${list(gateway)} vs alone ${list(paired)} (ratios ${pairRatios.join(", ")}); ${MAX_TOKENS} tokens a request (mean ${perRequest(gateway)} vs ${perRequest(alone)}); first token p50 ${round(median(gateway.map((t) => t.ttftP50)), 0)} vs ${round(median(alone.map((t) => t.ttftP50)), 0)} ms; serve's CPU ${round((gatewayCpu * 1000) / (gateway.reduce((a, t) => a + t.tokens, 0) / 1000), 0)} ms per 1000 tokens; the machine's 1-minute load average ${round(loadBefore, 1)} before, ${round(loadAfter, 1)} after${errors ? `; errors ${errors}` : ""}`,
        },
        {
          suite: "llama",
          case: `${BATCH_LINES}-line batch through serve's batch worker`,
          baseline,
          metric: "completion tokens/s",
          unit: "tokens/s",
          value: round(batch.tokensPerSecond, 1),
          baselineValue: round(batchBase, 1),
          ratio: round(batch.tokensPerSecond / batchBase, 3),
          note: `target >= 0.95; from the first answer to the last (serve's /metrics every 100 ms): ${round(batch.seconds, 1)} s; ${batch.outputTokens} tokens in all, ${round(batch.outputTokens / batch.responseTime, 1)} tokens/s over the batch's response_time (${round(batch.responseTime, 1)} s, running to completed); its concurrency limit ${batch.concurrency[0]} (median), ${batch.concurrency[1]} at most (the engine runs ${PARALLEL}); serve's CPU ${round((batch.serveCpu * 1000) / (batch.outputTokens / 1000), 0)} ms per 1000 tokens; baseline: the engine-alone rounds just before and after it (${list(around)})`,
        },
      ];
      const med = (pick: (c: (typeof cold)[number]) => number) => round(median(cold.map(pick)), 0);
      const d = med((c) => c.direct.total);
      const g = med((c) => c.gateway.total);
      // What the scheduler itself adds, without the engine's own (noisy) load: launching and
      // Node's start, and noticing the engine is ready plus routing the first token.
      const own = (r: ColdRun) => r.toListening + r.afterLoaded;
      const ownD = med((c) => own(c.direct));
      const ownG = med((c) => own(c.gateway));
      rows.push(
        {
          suite: "llama",
          case: "dynamic model, first request to first token through the gateway",
          baseline: "engine started by hand: spawn, /health 200 (10 ms polls), first token",
          metric: "ms",
          unit: "ms",
          value: g,
          baselineValue: d,
          difference: round(g - d, 0),
          note: `target < 300 ms added; medians of ${COLD_RUNS} runs in turn (which goes first alternates): gateway ${cold.map((c) => round(c.gateway.total, 0)).join(", ")} vs by hand ${cold.map((c) => round(c.direct.total, 0)).join(", ")}; the engine's load (spawn to /health 200, by hand) ${cold.map((c) => round(c.direct.health, 0)).join(", ")}; its own load_ms gateway ${cold.map((c) => c.gateway.loadMs).join(", ")} vs by hand ${cold.map((c) => c.direct.loadMs).join(", ")}`,
        },
        {
          suite: "llama",
          case: "the same, less the engine's own load_ms (from its log)",
          baseline: "the same for the engine started by hand",
          metric: "ms",
          unit: "ms",
          value: ownG,
          baselineValue: ownD,
          difference: round(ownG - ownD, 0),
          note: `target < 300 ms added; request (spawn) to engine listening ${med((c) => c.gateway.toListening)} vs ${med((c) => c.direct.toListening)} ms (medians); model loaded to first token ${med((c) => c.gateway.afterLoaded)} vs ${med((c) => c.direct.afterLoaded)} ms`,
        },
      );
      return rows;
    } finally {
      await stop(engine);
      if (serve) await stop(serve);
      await pg.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
