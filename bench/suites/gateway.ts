import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { createPostgresDatabase } from "@switchyard/db/testing";
import { freePort } from "@switchyard/scheduler";
import { createParser } from "eventsource-parser";
import { type Row, round, type Suite } from "../lib";
import { type PacedResult, pacedLoad } from "../load";
import {
  child,
  NODE_PROXY,
  PORTKEY,
  SWITCHYARD_BIN,
  simulatorProcess,
  startNginx,
  stop,
  toolsAvailable,
  waitFor,
} from "../procs";
import { wrk } from "../wrk";

const MODEL = "bench/model";
const STREAM_MODEL = "bench/stream";
/** Switchyard with one gateway process, and with two (`serve --workers`). */
const SY1 = "switchyard --workers 1";
const SY2 = "switchyard --workers 2";
const BODY = JSON.stringify({
  model: MODEL,
  messages: [{ role: "user", content: "Say hi to the benchmark" }],
  max_tokens: 16,
});

interface System {
  name: string;
  url: string;
  headers: Record<string, string>;
}

interface StreamTimings {
  /** Per stream: ms from sending the request to the first content token. */
  ttft: number[];
  /** ms between one arrival of content and the next (an arrival: a read completing token events). */
  gaps: number[];
  tokens: number;
  arrivals: number;
}

/**
 * Stream timings as a client sees them. The bytes go through an SSE parser, so an event split
 * across reads counts once, when its last byte arrives; tokens that arrive in the same read are
 * one arrival (a gap is the wait between arrivals, never a 0 ms filler), and `tokens / arrivals`
 * shows how much a hop bunches tokens together.
 */
async function streamTimings(
  system: System,
  model: string,
  streams: number,
  concurrency: number,
): Promise<StreamTimings> {
  const timings: StreamTimings = { ttft: [], gaps: [], tokens: 0, arrivals: 0 };
  let next = 0;
  const body = JSON.stringify({
    model,
    stream: true,
    max_tokens: 24,
    ignore_eos: true,
    messages: [{ role: "user", content: "stream" }],
  });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < streams) {
        next++;
        const start = performance.now();
        const res = await fetch(system.url, {
          method: "POST",
          headers: { "content-type": "application/json", ...system.headers },
          body,
        });
        if (!res.ok || !res.body) throw new Error(`${system.name}: ${res.status} ${await res.text()}`);
        let tokensInRead = 0;
        const parser = createParser({
          onEvent(event) {
            if (event.data === "[DONE]") return;
            const chunk = JSON.parse(event.data) as { choices?: { delta?: { content?: string | null } }[] };
            if (chunk.choices?.[0]?.delta?.content) tokensInRead++;
          },
        });
        const decoder = new TextDecoder();
        const reader = res.body.getReader();
        let last: number | undefined;
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          const now = performance.now();
          tokensInRead = 0;
          parser.feed(decoder.decode(value, { stream: true }));
          if (tokensInRead === 0) continue;
          timings.tokens += tokensInRead;
          timings.arrivals++;
          if (last === undefined) timings.ttft.push(now - start);
          else timings.gaps.push(now - last);
          last = now;
        }
      }
    }),
  );
  return timings;
}

/** Which gateway worker answers `/health` on a connection of its own (node:cluster hands each new one to the next). */
function healthWorker(base: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    get(`${base}/health`, { agent: false }, (res) => {
      let text = "";
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => resolve((JSON.parse(text) as { worker?: number }).worker));
    }).on("error", reject);
  });
}

/** Until every worker of `serve --workers n` answers: the first listens seconds before the last. */
async function allWorkersUp(base: string, workers: number): Promise<void> {
  const seen = new Set<number>();
  const deadline = Date.now() + 60_000;
  while (seen.size < workers) {
    if (Date.now() > deadline) throw new Error(`only workers ${[...seen].join(", ")} of ${workers} answer at ${base}`);
    const worker = await healthWorker(base);
    if (worker !== undefined) seen.add(worker);
    else await new Promise((r) => setTimeout(r, 100));
  }
}

/** Rounds of the paced 1,000 req/s measurement, direct and Switchyard alternated. */
const PACED_ROUNDS = 3;

function median(values: number[]): number {
  return percentile(values, 0.5);
}

function signed(ms: number): string {
  return `${ms >= 0 ? "+" : ""}${round(ms, 2)}`;
}

function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/**
 * The same model server (the simulator) reached several ways in one run: directly, through nginx
 * (plain reverse proxy), a bare node:http + undici proxy, Switchyard with one and with two
 * gateway processes (`serve --workers 1|2`: API key auth, rate limits, metrics, usage and a log
 * line per request, PostgreSQL), and the Portkey gateway. Saturation with wrk
 * (1 thread, 32 connections), latency at an evenly paced 1,000 req/s (bench/baselines/paced.mjs; three
 * rounds alternating direct and Switchyard, reported as the median of the paired differences), and streaming
 * (first token and gaps between arrivals of tokens) with a paced simulator.
 */
export const gateway: Suite = {
  name: "gateway",
  description: "simulator direct vs nginx vs Switchyard vs Portkey: saturation, fixed 1,000 req/s, streaming",
  async run() {
    const missing = toolsAvailable();
    if (missing) throw new Error(missing);
    const dir = mkdtempSync(path.join(tmpdir(), "sy-bench-gw-"));
    mkdirSync(path.join(dir, "data"));
    const [simPort, streamSimPort, nginxPort, syPort, sy2Port, portkeyPort, nodePort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const procs = [];
    const pg = await createPostgresDatabase("sy_bench");
    const pg2 = await createPostgresDatabase("sy_bench");
    try {
      // Two upstreams: the fast profile (answers at once) and a paced one for the streaming numbers.
      procs.push(simulatorProcess(MODEL, simPort, ["--profile", "fast"]));
      procs.push(simulatorProcess(STREAM_MODEL, streamSimPort, ["--ttft", "20ms", "--tokens-per-second", "100"]));
      await waitFor(`http://127.0.0.1:${simPort}/health`);
      await waitFor(`http://127.0.0.1:${streamSimPort}/health`);
      procs.push(startNginx(dir, nginxPort, simPort));
      procs.push(child(process.execPath, [NODE_PROXY, String(nodePort), `http://127.0.0.1:${simPort}`]));
      procs.push(child(process.execPath, [PORTKEY, `--port=${portkeyPort}`, "--headless"]));
      const config = path.join(dir, "bench.yaml");
      writeFileSync(
        config,
        `gateway:
  limits:
    user: { requestsPerMinute: 100000000, tokensPerMinute: 1000000000000, concurrentRequests: 100000 }
    model: { requestsPerMinute: 100000000, tokensPerMinute: 1000000000000 }
clusters:
  - name: bench
    nodes: [{ name: n1, gpus: 2, role: hot }]
    frameworks: [vllm]
models:
  - { id: ${MODEL}, cluster: bench, framework: vllm, capabilities: [chat, completions], placement: hot, node: n1, engine: { type: external, url: "http://127.0.0.1:${simPort}" } }
  - { id: ${STREAM_MODEL}, cluster: bench, framework: vllm, capabilities: [chat], placement: hot, node: n1, engine: { type: external, url: "http://127.0.0.1:${streamSimPort}" } }
`,
      );
      /** Switchyard with `workers` gateway processes (its own database), and an API key on it. */
      const startSwitchyard = async (port: number, workers: number, database: string) => {
        procs.push(
          child(
            process.execPath,
            [
              SWITCHYARD_BIN,
              "serve",
              "--port",
              String(port),
              "--workers",
              String(workers),
              "--data-dir",
              path.join(dir, `data-${workers}`),
              "--config",
              config,
            ],
            {
              DATABASE_URL: database,
              SWITCHYARD_ADMIN_PASSWORD: "bench-admin-password",
              SWITCHYARD_LOG_FORMAT: "json",
              SWITCHYARD_LOG_LEVEL: "info",
            },
          ),
        );
        const sy = `http://127.0.0.1:${port}`;
        await waitFor(`${sy}/health`);
        if (workers > 1) await allWorkersUp(sy, workers);
        const grant = await fetch(`${sy}/auth/token`, {
          method: "POST",
          body: new URLSearchParams({ grant_type: "password", username: "admin", password: "bench-admin-password" }),
        });
        const { access_token: token } = (await grant.json()) as { access_token: string };
        const created = await fetch(`${sy}/v1/keys`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ name: "bench", scopes: ["inference"] }),
        });
        const { key } = (await created.json()) as { key: string };
        await waitFor(`${sy}/v1/models/${MODEL}`, { headers: { authorization: `Bearer ${key}` } });
        for (let i = 0; i < 100; i++) {
          const models = (await (
            await fetch(`${sy}/v1/models`, { headers: { authorization: `Bearer ${key}` } })
          ).json()) as { data: { status: string }[] };
          if (models.data.every((m) => m.status === "live")) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        return { url: sy, key };
      };
      const sy1 = await startSwitchyard(syPort, 1, pg.url);
      const sy2 = await startSwitchyard(sy2Port, 2, pg2.url);
      await waitFor(`http://127.0.0.1:${portkeyPort}/`);

      const systems: System[] = [
        { name: "direct", url: `http://127.0.0.1:${simPort}/v1/chat/completions`, headers: {} },
        { name: "nginx", url: `http://127.0.0.1:${nginxPort}/v1/chat/completions`, headers: {} },
        { name: "node-proxy", url: `http://127.0.0.1:${nodePort}/v1/chat/completions`, headers: {} },
        { name: SY1, url: `${sy1.url}/v1/chat/completions`, headers: { authorization: `Bearer ${sy1.key}` } },
        { name: SY2, url: `${sy2.url}/v1/chat/completions`, headers: { authorization: `Bearer ${sy2.key}` } },
        {
          name: "portkey",
          url: `http://127.0.0.1:${portkeyPort}/v1/chat/completions`,
          headers: {
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": `http://127.0.0.1:${simPort}/v1`,
            authorization: "Bearer unused",
          },
        },
      ];
      for (const system of systems) {
        const res = await fetch(system.url, {
          method: "POST",
          headers: { "content-type": "application/json", ...system.headers },
          body: BODY,
        });
        if (!res.ok) throw new Error(`${system.name} does not answer: ${res.status} ${await res.text()}`);
      }

      // Saturation: warm each up, then two interleaved rounds averaged.
      for (const s of systems) await wrk({ url: s.url, body: BODY, headers: s.headers, seconds: 2, dir });
      const saturation = new Map<string, { rps: number[]; p50: number[]; p99: number[]; errors: number }>();
      for (let round = 0; round < 2; round++) {
        for (const s of systems) {
          const r = await wrk({ url: s.url, body: BODY, headers: s.headers, seconds: 8, dir });
          const entry = saturation.get(s.name) ?? { rps: [], p50: [], p99: [], errors: 0 };
          entry.rps.push(r.requestsPerSecond);
          entry.p50.push(r.p50);
          entry.p99.push(r.p99);
          entry.errors += r.errors;
          saturation.set(s.name, entry);
        }
      }
      const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
      const rps = (name: string) => mean(saturation.get(name)?.rps ?? [Number.NaN]);

      // A steady 1,000 req/s (evenly paced, open loop): what each hop adds to latency. The
      // rounds alternate direct and Switchyard, and the rows report the median of the paired
      // differences: on a shared 2-core machine one 8-second round per system moved the p99
      // difference between +2.5 and +11 ms from run to run.
      const paced = (s: System, seconds = 8) =>
        pacedLoad({
          url: s.url,
          method: "POST",
          body: BODY,
          headers: { "content-type": "application/json", ...s.headers },
          rate: 1000,
          seconds,
        });
      const fixed = new Map<string, PacedResult[]>();
      const alternated = systems.filter((s) => s.name === "direct" || s.name.startsWith("switchyard"));
      // A 2-second warm-up round each first, not counted (as the saturation runs have).
      for (const s of alternated) await paced(s, 2);
      for (let round = 0; round < PACED_ROUNDS; round++) {
        for (const s of alternated) fixed.set(s.name, [...(fixed.get(s.name) ?? []), await paced(s)]);
      }
      // nginx and Portkey once each, next to direct's first round.
      for (const s of systems) if (!fixed.has(s.name)) fixed.set(s.name, [await paced(s)]);

      // Streaming (paced simulator: 20 ms to the first token, 100 tokens/s).
      const streamSystems: System[] = [
        { name: "direct", url: `http://127.0.0.1:${streamSimPort}/v1/chat/completions`, headers: {} },
        { name: SY1, url: `${sy1.url}/v1/chat/completions`, headers: { authorization: `Bearer ${sy1.key}` } },
        { name: SY2, url: `${sy2.url}/v1/chat/completions`, headers: { authorization: `Bearer ${sy2.key}` } },
      ];
      const streaming = new Map<string, StreamTimings>();
      for (const s of streamSystems) streaming.set(s.name, await streamTimings(s, STREAM_MODEL, 200, 20));

      const rows: Row[] = [];
      const base = { suite: "gateway", metric: "req/s", unit: "req/s" };
      for (const name of ["nginx", "node-proxy", SY1, SY2, "portkey"]) {
        const entry = saturation.get(name)!;
        rows.push({
          ...base,
          case: `${name} at saturation`,
          baseline: "direct to the simulator",
          value: round(rps(name), 0),
          baselineValue: round(rps("direct"), 0),
          ratio: round(rps(name) / rps("direct"), 3),
          note: `p50 ${round(mean(entry.p50))} ms, p99 ${round(mean(entry.p99))} ms${entry.errors ? `, ${entry.errors} errors` : ""}`,
        });
      }
      for (const sy of [SY1, SY2]) {
        rows.push({
          ...base,
          case: `${sy} at saturation`,
          baseline: "nginx at saturation",
          value: round(rps(sy), 0),
          baselineValue: round(rps("nginx"), 0),
          ratio: round(rps(sy) / rps("nginx"), 3),
          note: "target >= 0.5",
        });
        rows.push({
          ...base,
          case: `${sy} at saturation`,
          baseline: "node-proxy at saturation (node:http + undici, nothing else)",
          value: round(rps(sy), 0),
          baselineValue: round(rps("node-proxy"), 0),
          ratio: round(rps(sy) / rps("node-proxy"), 3),
          note: "what auth, validation, limits, routing, usage, metrics and logs cost on top of Node itself",
        });
        rows.push({
          ...base,
          case: `${sy} at saturation`,
          baseline: "portkey at saturation",
          value: round(rps(sy), 0),
          baselineValue: round(rps("portkey"), 0),
          ratio: round(rps(sy) / rps("portkey"), 2),
          note: "target >= 12",
        });
      }
      // Latencies compare by what each hop adds (a difference in ms), not by a ratio: per round
      // against the direct round of the same round, then the median over the rounds.
      const directRounds = fixed.get("direct")!;
      for (const name of ["nginx", SY1, SY2, "portkey"]) {
        const rounds = fixed.get(name)!;
        for (const [q, target] of [
          ["p50", 1],
          ["p99", 5],
        ] as const) {
          const differences = rounds.map((r, i) => r[q] - (directRounds[i] as PacedResult)[q]);
          const errors = rounds.reduce((sum, r) => sum + r.errors, 0);
          const notes = [
            ...(name.startsWith("switchyard") ? [`target: +${target} ms`] : []),
            ...(rounds.length > 1
              ? [`median of ${rounds.length} alternated rounds: ${differences.map((d) => signed(d)).join(", ")} ms`]
              : []),
            ...(errors ? [`${errors} errors`] : []),
          ];
          rows.push({
            suite: "gateway",
            case: `${name} at 1,000 req/s`,
            baseline: "direct at 1,000 req/s",
            metric: `${q} latency, ms`,
            unit: "ms",
            value: round(median(rounds.map((r) => r[q])), 2),
            baselineValue: round(median(directRounds.slice(0, rounds.length).map((r) => r[q])), 2),
            difference: round(median(differences), 2),
            ...(notes.length ? { note: notes.join("; ") } : {}),
          });
        }
      }
      const sd = streaming.get("direct")!;
      const ttft = (t: StreamTimings, q: number) => percentile(t.ttft, q);
      const perArrival = (t: StreamTimings) => round(t.tokens / t.arrivals, 2);
      for (const sy of [SY1, SY2]) {
        const ss = streaming.get(sy)!;
        rows.push({
          suite: "gateway",
          case: `${sy} stream: first token`,
          baseline: "direct stream: first token",
          metric: "p50 time to first token, ms",
          unit: "ms",
          value: round(ttft(ss, 0.5), 2),
          baselineValue: round(ttft(sd, 0.5), 2),
          difference: round(ttft(ss, 0.5) - ttft(sd, 0.5), 2),
          note: `target: +2 ms; p99 ${round(ttft(ss, 0.99), 2)} ms vs ${round(ttft(sd, 0.99), 2)} ms`,
        });
        rows.push({
          suite: "gateway",
          case: `${sy} stream: gap between arrivals of tokens`,
          baseline: "direct stream: gap between arrivals of tokens",
          metric: "p99 gap, ms",
          unit: "ms",
          value: round(percentile(ss.gaps, 0.99), 2),
          baselineValue: round(percentile(sd.gaps, 0.99), 2),
          difference: round(percentile(ss.gaps, 0.99) - percentile(sd.gaps, 0.99), 2),
          note: `target: +1 ms; tokens per arrival ${perArrival(ss)} vs ${perArrival(sd)}; 200 streams x 24 tokens, 20 at a time`,
        });
      }
      return rows;
    } finally {
      for (const proc of procs.reverse()) await stop(proc);
      await pg.drop().catch(() => {});
      await pg2.drop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
