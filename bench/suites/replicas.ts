import type { ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createPostgresDatabase } from "@switchyard/db/testing";
import { freePort } from "@switchyard/scheduler";
import { createParser } from "eventsource-parser";
import { type Row, round, type Suite } from "../lib";
import { child, SWITCHYARD_BIN, stop, waitFor } from "../procs";

const MODEL = "bench/replicas";
const CLUSTER = "bench";
/** The simulator's sequences at once (vLLM's max_num_seqs); more wait in its FIFO queue. */
const MAX_CONCURRENCY = 4;
const TOKENS_PER_SECOND = 100;
const TTFT = "50ms";
const MAX_TOKENS = 40;
/** Replicas the case may grow to; the node has a GPU for each. */
const MAX_REPLICAS = 4;
const UP_WINDOW_SECONDS = 3;
/** The model's expected load time (600 s by default) times this: the simulator loads in 1.2 s. */
const LOAD_TIME_SCALE = 0.002;
const LOAD_SECONDS = 600 * LOAD_TIME_SCALE;
/** Closed-loop clients per step: one replica saturates above MAX_CONCURRENCY. */
const STEPS = [2, 4, 8, 12, 16];
const STEP_SECONDS = 15;
/** The end of a step, after a scale-up (upWindow + load + a second or so) has had time to land. */
const SETTLED_SECONDS = 5;
const BODY = JSON.stringify({
  model: MODEL,
  stream: true,
  max_tokens: MAX_TOKENS,
  ignore_eos: true,
  messages: [{ role: "user", content: "ramp" }],
});

interface Sample {
  /** ms since the ramp began, when the request was sent. */
  sent: number;
  /** ms from sending to the first content token. */
  ttft: number;
  /** ms from sending to the end of the stream. */
  latency: number;
}

interface Unloaded {
  ttft: number;
  latency: number;
}

interface StepResult {
  clients: number;
  requests: number;
  perSecond: number;
  p50: number;
  p99: number;
  /** Queue time: the first token's wait beyond the unloaded one. */
  queueP50: number;
  queueP99: number;
  /** Replicas live when the step ended (the jobs view). */
  live: number;
  /** p99 latency of the step's last SETTLED_SECONDS: after the replicas it brought went live. */
  settledP99: number;
}

interface RampRun {
  unloaded: Unloaded;
  steps: StepResult[];
  overall: { requests: number; perSecond: number; p50: number; p99: number; queueP50: number; queueP99: number };
  errors: number;
  /** ms from the first step with more clients than one replica's sequences to the second replica being live. */
  secondReplica?: { started: number; live: number };
  /** When each replica went live, ms since the ramp began (the first one before it: negative). */
  liveAt: number[];
}

function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

function median(values: number[]): number {
  return percentile(values, 0.5);
}

/** One streamed chat request through the gateway: first content token and end, in ms from sending. */
async function streamOnce(url: string, key: string, signal?: AbortSignal): Promise<{ ttft: number; latency: number }> {
  const start = performance.now();
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: BODY,
    signal,
  });
  if (!res.ok || !res.body) throw new Error(`chat failed: ${res.status} ${await res.text()}`);
  let ttft: number | undefined;
  const parser = createParser({
    onEvent(event) {
      if (ttft !== undefined || event.data === "[DONE]") return;
      const chunk = JSON.parse(event.data) as { choices?: { delta?: { content?: string | null } }[] };
      if (chunk.choices?.[0]?.delta?.content) ttft = performance.now() - start;
    },
  });
  const decoder = new TextDecoder();
  const reader = res.body.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    parser.feed(decoder.decode(value, { stream: true }));
  }
  const latency = performance.now() - start;
  return { ttft: ttft ?? latency, latency };
}

interface JobsView {
  running: { models: string[]; state: string; start_time: string; live_since: string | null }[];
}

/**
 * The model's replicas as the jobs view shows them: how many are live, and for each (by when it
 * went live) when it was launched and when it went live (epoch ms).
 */
async function liveReplicas(
  url: string,
  token: string,
): Promise<{ live: number; replicas: { started: number; live: number }[] }> {
  const res = await fetch(`${url}/resource_server/${CLUSTER}/jobs`, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`jobs view: ${res.status} ${await res.text()}`);
  const view = (await res.json()) as JobsView;
  const live = view.running.filter((j) => j.state === "live" && j.models.includes(MODEL));
  return {
    live: live.length,
    replicas: live
      .map((j) => ({ started: Date.parse(j.start_time), live: Date.parse(j.live_since ?? "") }))
      .filter((r) => Number.isFinite(r.live))
      .sort((a, b) => a.live - b.live),
  };
}

function config(maxReplicas: number): string {
  return `gateway:
  limits:
    user: { requestsPerMinute: 100000000, tokensPerMinute: 1000000000000, concurrentRequests: 100000 }
    model: { requestsPerMinute: 100000000, tokensPerMinute: 1000000000000 }
simulator: { loadTimeScale: ${LOAD_TIME_SCALE} }
scheduler:
  stopGrace: 1
  scaling: { upWindow: ${UP_WINDOW_SECONDS}, downWindow: 600, demandInterval: 1 }
clusters:
  - name: ${CLUSTER}
    launcher: { type: local }
    nodes: [{ name: rot-1, gpus: ${MAX_REPLICAS}, role: rotating }]
    frameworks: [vllm]
models:
  - id: ${MODEL}
    cluster: ${CLUSTER}
    framework: vllm
    capabilities: [chat]
    placement: dynamic
    gpus: 1
    maxReplicas: ${maxReplicas}
    replicaConcurrency: ${MAX_CONCURRENCY}
    engine: { type: simulator, maxConcurrency: ${MAX_CONCURRENCY}, tokensPerSecond: ${TOKENS_PER_SECOND}, timeToFirstToken: ${TTFT} }
`;
}

/**
 * A fresh `serve` (local launcher, its own PostgreSQL database) with the model allowed up to
 * `maxReplicas`: warm it up, measure one request alone, then the ramp of closed-loop clients,
 * sampling the jobs view as it goes.
 */
async function rampRun(dir: string, maxReplicas: number): Promise<RampRun> {
  const runDir = path.join(dir, `max-${maxReplicas}`);
  mkdirSync(path.join(runDir, "data"), { recursive: true });
  const configFile = path.join(runDir, "bench.yaml");
  writeFileSync(configFile, config(maxReplicas));
  const pg = await createPostgresDatabase("sy_bench_replicas");
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const serve: ChildProcess = child(
    process.execPath,
    [SWITCHYARD_BIN, "serve", "--port", String(port), "--data-dir", path.join(runDir, "data"), "--config", configFile],
    {
      DATABASE_URL: pg.url,
      SWITCHYARD_ADMIN_PASSWORD: "bench-admin-password",
      SWITCHYARD_LOG_FORMAT: "json",
      SWITCHYARD_LOG_LEVEL: "warn",
    },
  );
  try {
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

    // The first request starts the (dynamic) model and is held until it is live; then warm up.
    await streamOnce(url, key);
    for (let i = 0; i < 3; i++) await streamOnce(url, key);
    const alone: { ttft: number; latency: number }[] = [];
    for (let i = 0; i < 10; i++) alone.push(await streamOnce(url, key));
    const unloaded = { ttft: median(alone.map((a) => a.ttft)), latency: median(alone.map((a) => a.latency)) };

    const samples: Sample[] = [];
    let errors = 0;
    let clients = 0;
    let stopping = false;
    const abort = new AbortController();
    const began = performance.now();
    const beganAt = Date.now();
    const loops: Promise<void>[] = [];
    const client = async (index: number) => {
      while (!stopping && index < clients) {
        const sent = performance.now() - began;
        try {
          const r = await streamOnce(url, key, abort.signal);
          if (!stopping) samples.push({ sent, ...r });
        } catch (error) {
          if (stopping) return;
          errors++;
          process.stderr.write(`bench replicas: ${(error as Error).message}\n`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    };
    const ends: { clients: number; from: number; to: number; live: number }[] = [];
    let exceededAt: number | undefined;
    for (const target of STEPS) {
      const from = performance.now() - began;
      if (exceededAt === undefined && target > MAX_CONCURRENCY) exceededAt = beganAt + from;
      while (clients < target) loops.push(client(clients++));
      await new Promise((r) => setTimeout(r, STEP_SECONDS * 1000));
      const to = performance.now() - began;
      ends.push({ clients: target, from, to, live: (await liveReplicas(url, token)).live });
    }
    stopping = true;
    const { replicas: live } = await liveReplicas(url, token);
    abort.abort();
    await Promise.all(loops);

    const summarize = (list: Sample[], seconds: number) => {
      const latency = list.map((s) => s.latency);
      const queue = list.map((s) => Math.max(0, s.ttft - unloaded.ttft));
      return {
        requests: list.length,
        perSecond: list.length / seconds,
        p50: percentile(latency, 0.5),
        p99: percentile(latency, 0.99),
        queueP50: percentile(queue, 0.5),
        queueP99: percentile(queue, 0.99),
      };
    };
    const within = (from: number, to: number) => samples.filter((s) => s.sent >= from && s.sent < to);
    const steps: StepResult[] = ends.map(({ clients, from, to, live }) => ({
      clients,
      live,
      ...summarize(within(from, to), (to - from) / 1000),
      settledP99: percentile(
        within(to - SETTLED_SECONDS * 1000, to).map((s) => s.latency),
        0.99,
      ),
    }));
    const total = (ends.at(-1)?.to ?? 0) / 1000;
    const second = live[1];
    return {
      unloaded,
      steps,
      overall: summarize(samples, total),
      errors,
      secondReplica:
        second && exceededAt !== undefined
          ? { started: second.started - exceededAt, live: second.live - exceededAt }
          : undefined,
      liveAt: live.map((r) => r.live - beganAt),
    };
  } finally {
    await stop(serve);
    await pg.drop();
  }
}

/**
 * Replicas that follow demand: one dynamic chat model on the simulator (4 sequences at once, 40
 * tokens at 100 tokens/s, so about 0.45 s a request and one replica saturated above 4 clients),
 * a ramp of closed-loop streaming clients (2, 4, 8, 12, 16; 15 s each) through the gateway with
 * an API key. The same ramp twice in one run: the model held to one replica (baseline) and
 * allowed four (`maxReplicas: 4`, `replicaConcurrency: 4`, `scaling.upWindow: 3s`, a 1.2 s load).
 * Queue time is a request's first token minus the first token of one request alone (measured
 * in the same run): the wait for a sequence slot, in the simulator's FIFO as in vLLM's.
 */
export const replicas: Suite = {
  name: "replicas",
  description: `load ramp ${STEPS.join("/")} clients x ${STEP_SECONDS} s on a model whose replica runs ${MAX_CONCURRENCY} sequences: maxReplicas ${MAX_REPLICAS} vs 1`,
  async run() {
    const dir = mkdtempSync(path.join(tmpdir(), "sy-bench-replicas-"));
    try {
      const base = await rampRun(dir, 1);
      const scaled = await rampRun(dir, MAX_REPLICAS);
      const rows: Row[] = [];
      const caseName = (what: string) => `${what}, maxReplicas ${MAX_REPLICAS}`;
      const baseName = (what: string) => `${what}, maxReplicas 1`;
      const errorsNote = base.errors + scaled.errors > 0 ? `; errors ${scaled.errors} vs ${base.errors}` : "";
      STEPS.forEach((clients, i) => {
        const c = scaled.steps[i] as StepResult;
        const b = base.steps[i] as StepResult;
        const what = `${clients} clients`;
        rows.push({
          suite: "replicas",
          case: caseName(what),
          baseline: baseName(what),
          metric: "p99 latency, ms",
          unit: "ms",
          value: round(c.p99, 0),
          baselineValue: round(b.p99, 0),
          difference: round(c.p99 - b.p99, 0),
          note: `p50 ${round(c.p50, 0)} vs ${round(b.p50, 0)} ms; last ${SETTLED_SECONDS} s p99 ${round(c.settledP99, 0)} vs ${round(b.settledP99, 0)} ms; ${round(c.perSecond, 1)} vs ${round(b.perSecond, 1)} req/s; replicas live at the step's end ${c.live} vs ${b.live}`,
        });
        rows.push({
          suite: "replicas",
          case: caseName(what),
          baseline: baseName(what),
          metric: "p99 queue time, ms",
          unit: "ms",
          value: round(c.queueP99, 0),
          baselineValue: round(b.queueP99, 0),
          difference: round(c.queueP99 - b.queueP99, 0),
          note: `p50 ${round(c.queueP50, 0)} vs ${round(b.queueP50, 0)} ms`,
        });
      });
      const ramp = `whole ramp (${STEPS.join("/")} clients)`;
      const o = scaled.overall;
      const ob = base.overall;
      rows.push(
        {
          suite: "replicas",
          case: caseName(ramp),
          baseline: baseName(ramp),
          metric: "p50 latency, ms",
          unit: "ms",
          value: round(o.p50, 0),
          baselineValue: round(ob.p50, 0),
          difference: round(o.p50 - ob.p50, 0),
          note: `one request alone: ${round(scaled.unloaded.latency, 0)} vs ${round(base.unloaded.latency, 0)} ms, first token ${round(scaled.unloaded.ttft, 0)} vs ${round(base.unloaded.ttft, 0)} ms`,
        },
        {
          suite: "replicas",
          case: caseName(ramp),
          baseline: baseName(ramp),
          metric: "p99 latency, ms",
          unit: "ms",
          value: round(o.p99, 0),
          baselineValue: round(ob.p99, 0),
          difference: round(o.p99 - ob.p99, 0),
          note: `${o.requests} vs ${ob.requests} requests${errorsNote}`,
        },
        {
          suite: "replicas",
          case: caseName(ramp),
          baseline: baseName(ramp),
          metric: "p99 queue time, ms",
          unit: "ms",
          value: round(o.queueP99, 0),
          baselineValue: round(ob.queueP99, 0),
          difference: round(o.queueP99 - ob.queueP99, 0),
          note: `p50 ${round(o.queueP50, 0)} vs ${round(ob.queueP50, 0)} ms`,
        },
        {
          suite: "replicas",
          case: caseName(ramp),
          baseline: baseName(ramp),
          metric: "requests/s",
          unit: "req/s",
          value: round(o.perSecond, 1),
          baselineValue: round(ob.perSecond, 1),
          ratio: round(o.perSecond / ob.perSecond, 2),
        },
      );
      const floor = (UP_WINDOW_SECONDS + LOAD_SECONDS) * 1000;
      if (scaled.secondReplica !== undefined) {
        rows.push({
          suite: "replicas",
          case: `second replica live, from the first step above ${MAX_CONCURRENCY} clients`,
          baseline: "scaling.upWindow + the simulator's load time (the configured floor)",
          metric: "ms",
          unit: "ms",
          value: round(scaled.secondReplica.live, 0),
          baselineValue: floor,
          difference: round(scaled.secondReplica.live - floor, 0),
          note: `launched after ${round(scaled.secondReplica.started, 0)} ms (upWindow ${UP_WINDOW_SECONDS * 1000} ms), live ${round(scaled.secondReplica.live - scaled.secondReplica.started, 0)} ms later (load ${LOAD_SECONDS * 1000} ms); replicas live at (s into the ramp): ${scaled.liveAt.map((t) => round(t / 1000, 1)).join(", ")}; steps start every ${STEP_SECONDS} s`,
        });
      } else {
        throw new Error(`the second replica never went live (live at: ${scaled.liveAt.join(", ")})`);
      }
      return rows;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
