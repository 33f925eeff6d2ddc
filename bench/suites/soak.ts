import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createPostgresDatabase } from "@switchyard/db/testing";
import { freePort } from "@switchyard/scheduler";
import { type Band, lineChartSvg, svgToPng } from "../chart";
import { type Row, round, type Suite, type SuiteResult } from "../lib";
import { SWITCHYARD_BIN } from "../procs";

const RESULTS_DIR = fileURLToPath(new URL("../results/", import.meta.url));
const ADMIN_PASSWORD = "bench-admin-password";
const METRICS_TOKEN = "bench-soak-metrics-token";
const REDIS_URL = process.env.SWITCHYARD_BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";
const SAMPLE_SECONDS = 10;
/** Requests per second through the two gateways together (about 55: 2 cores stay far from saturated). */
const RATES = { chat: 30, stream: 8, embeddings: 15, models: 1 } as const;
/** Past this many requests of a kind in flight, a due request is skipped (and counted): the load stays bounded. */
const MAX_IN_FLIGHT = 64;
/** Batch lines per minute of soak: sized so the batch runs for most of the soak (about 7 lines/s here). */
const BATCH_LINES_PER_MINUTE = 380;
const HOT = { chat: "soak/chat", stream: "soak/stream", embed: "soak/embed", batch: "soak/batch" } as const;
const COLD = ["soak/cold-a", "soak/cold-b"] as const;
const IDLE_TTL_SECONDS = 15;

/** `--minutes N` (after `pnpm bench soak`) or SWITCHYARD_SOAK_MINUTES; 10 by default. */
function minutes(): number {
  const args = process.argv;
  const flag = args.indexOf("--minutes");
  const value = flag >= 0 ? args[flag + 1] : process.env.SWITCHYARD_SOAK_MINUTES;
  const parsed = value === undefined ? 10 : Number(value);
  if (!(parsed > 0)) throw new Error(`--minutes wants a positive number, not ${value}`);
  return parsed;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function configYaml(shared: string): string {
  const sim = (extra: string) => `{ type: simulator, loadTime: 1s, ${extra} }`;
  return `gateway:
  limits:
    user: { requestsPerMinute: 100000000, tokensPerMinute: 1000000000000, concurrentRequests: 100000 }
    model: { requestsPerMinute: 100000000, tokensPerMinute: 1000000000000 }
batch:
  filesDir: ${shared}/files
  # 8 x (1 - 0.25) = 6 lines at once: the batch runs for minutes instead of seconds.
  replicaConcurrency: 8
  maxRunningBatches: 1
clusters:
  - name: soak
    launcher: { type: local }
    nodes: [{ name: hot-1, gpus: 4, role: hot }, { name: rot-1, gpus: 2, role: rotating }]
    frameworks: [vllm, { name: infinity, endpoints: [embeddings] }]
    batch: { allowedDirs: ["${shared}"] }
models:
  - { id: ${HOT.chat}, cluster: soak, framework: vllm, capabilities: [chat], placement: hot, node: hot-1, engine: ${sim("profile: fast")} }
  - { id: ${HOT.stream}, cluster: soak, framework: vllm, capabilities: [chat], placement: hot, node: hot-1, engine: ${sim("timeToFirstToken: 20ms, tokensPerSecond: 100")} }
  - { id: ${HOT.embed}, cluster: soak, framework: infinity, capabilities: [embedding], placement: hot, node: hot-1, engine: ${sim("profile: fast")} }
  - { id: ${HOT.batch}, cluster: soak, framework: vllm, capabilities: [chat, batch], placement: hot, node: hot-1, engine: ${sim("timeToFirstToken: 100ms, tokensPerSecond: 20")} }
${COLD.map((id) => `  - { id: ${id}, cluster: soak, framework: vllm, capabilities: [chat], placement: dynamic, gpus: 1, idleTtl: ${IDLE_TTL_SECONDS}s, engine: ${sim("profile: fast")} }`).join("\n")}
`;
}

interface Instance {
  name: string;
  url: string;
  proc: ChildProcess;
  log: string;
}

function startInstance(name: string, roles: string, port: number, dir: string, env: NodeJS.ProcessEnv): Instance {
  const log = path.join(dir, `${name}.log`);
  const fd = openSync(log, "a");
  const proc = spawn(
    process.execPath,
    [SWITCHYARD_BIN, "serve", "--roles", roles, "--port", String(port), "--data-dir", path.join(dir, name)],
    { stdio: ["ignore", fd, fd], env: { ...process.env, ...env } },
  );
  closeSync(fd);
  const kill = () => proc.kill("SIGKILL");
  process.once("exit", kill);
  proc.once("exit", () => process.off("exit", kill));
  return { name, url: `http://127.0.0.1:${port}`, proc, log };
}

/** SIGTERM, then SIGKILL after 30 s: the scheduler stops its model servers (10 s grace each) first. */
function stopGently(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.once("exit", () => resolve());
    proc.kill("SIGTERM");
    setTimeout(() => proc.kill("SIGKILL"), 30_000).unref();
  });
}

async function ready(instance: Instance, timeoutMs = 90_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (instance.proc.exitCode !== null) break;
    try {
      if ((await fetch(`${instance.url}/ready`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  const tail = readFileSync(instance.log, "utf8").split("\n").slice(-20).join("\n");
  throw new Error(`${instance.name} not ready (exit ${instance.proc.exitCode}):\n${tail}`);
}

/** One sample of one process: RSS and open fds from /proc, event-loop delay and heap from its /metrics. */
interface Sample {
  t: number;
  process: string;
  rssMb: number;
  fds: number;
  /** p99 of the event-loop delay since the previous sample (prom-client resets its histogram at each scrape). */
  eldP99Ms: number;
  heapUsedMb: number;
}

function metricValue(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : Number.NaN;
}

async function sampleOf(instance: Instance, t: number): Promise<Sample> {
  const pid = instance.proc.pid as number;
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rssKb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN);
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  const metrics = await (
    await fetch(`${instance.url}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
      signal: AbortSignal.timeout(5000),
    })
  ).text();
  return {
    t,
    process: instance.name,
    rssMb: round(rssKb / 1024, 1),
    fds,
    eldP99Ms: round(metricValue(metrics, "nodejs_eventloop_lag_p99_seconds") * 1000, 2),
    heapUsedMb: round(metricValue(metrics, "nodejs_heap_size_used_bytes") / 2 ** 20, 1),
  };
}

/** What happened to one kind of request. */
class Tally {
  sent = 0;
  ok = 0;
  skipped = 0;
  inFlight = 0;
  /** "status" or the error's name -> count. */
  failed: Record<string, number> = {};
  /** The first answer of each kind of failure. */
  examples: Record<string, string> = {};
  /** [seconds since the start, ms] of every answered request. */
  latencies: [number, number][] = [];

  fail(key: string, example: string): void {
    this.failed[key] = (this.failed[key] ?? 0) + 1;
    this.examples[key] ??= example.slice(0, 300);
  }

  summary() {
    return {
      sent: this.sent,
      ok: this.ok,
      skipped: this.skipped,
      failed: this.failed,
      examples: this.examples,
      p50Ms: round(
        percentile(
          this.latencies.map(([, ms]) => ms),
          0.5,
        ),
        1,
      ),
      p99Ms: round(
        percentile(
          this.latencies.map(([, ms]) => ms),
          0.99,
        ),
        1,
      ),
    };
  }
}

function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/** Least-squares slope of y over x. */
function slope(points: { x: number; y: number }[]): number {
  const mx = mean(points.map((p) => p.x));
  const my = mean(points.map((p) => p.y));
  const num = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  const den = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

async function batchFile(lines: number): Promise<Blob> {
  const body = (i: number) => ({
    model: HOT.batch,
    messages: [{ role: "user", content: `Soak line ${i}: say something short` }],
    max_tokens: 16,
    ignore_eos: true,
  });
  const text = Array.from({ length: lines }, (_, i) =>
    JSON.stringify({ custom_id: `soak-${i}`, method: "POST", url: "/v1/chat/completions", body: body(i) }),
  ).join("\n");
  return new Blob([`${text}\n`], { type: "application/jsonl" });
}

/**
 * Ten minutes (by default) of mixed traffic through two gateways (`serve --roles gateway`) in
 * front of one `serve --roles scheduler,batch`, on PostgreSQL and Redis, with the local launcher
 * running simulator model servers: chat, streams and embeddings on hot models, cold starts of two
 * dynamic models that idle out every 15 s, and one batch uploaded through the Files API that runs
 * meanwhile. Every 10 s each Switchyard process's RSS, open file descriptors and event-loop delay
 * (p99) are sampled; each series' mean over the last third is compared with the first third's
 * (after a one-minute warm-up): a ratio near 1 is flat, a leak shows as a ratio above 1 and a
 * slope. The samples go to bench/results/soak.json and a chart to bench/results/soak.png.
 *
 * The scheduler and the batch worker share a process, apart from the gateways: as in
 * docs/operations.md, gateways are what a load balancer fronts, and keeping the roles apart tells
 * which one grows, where an all-in-one would mix the gateway's memory with the worker's.
 */
export const soak: Suite = {
  name: "soak",
  description:
    "10 min of chat, streams, embeddings, cold starts and a running batch through two gateways: RSS, fds and event-loop delay, last third vs first third",
  onlyWhenNamed: true,
  async run(): Promise<SuiteResult> {
    const durationS = Math.round(minutes() * 60);
    const warmupS = Math.min(60, Math.round(durationS * 0.2));
    const dir = mkdtempSync(path.join(tmpdir(), "sy-bench-soak-"));
    const shared = path.join(dir, "shared");
    mkdirSync(path.join(shared, "files"), { recursive: true });
    const config = path.join(dir, "soak.yaml");
    writeFileSync(config, configYaml(shared));
    const pg = await createPostgresDatabase("sy_bench_soak");
    const env = {
      DATABASE_URL: pg.url,
      REDIS_URL,
      SWITCHYARD_CONFIG: config,
      SWITCHYARD_ADMIN_PASSWORD: ADMIN_PASSWORD,
      SWITCHYARD_METRICS_TOKEN: METRICS_TOKEN,
      SWITCHYARD_LOG_FORMAT: "json",
      SWITCHYARD_LOG_LEVEL: "info",
    };
    const instances: Instance[] = [];
    let finished = false;
    try {
      // The scheduler first, so that it migrates the database and launches the hot models.
      const backend = startInstance("scheduler+batch", "scheduler,batch", await freePort(), dir, env);
      instances.push(backend);
      await ready(backend);
      for (const name of ["gateway-1", "gateway-2"]) {
        instances.push(startInstance(name, "gateway", await freePort(), dir, env));
      }
      const gateways = instances.slice(1);
      await Promise.all(gateways.map((g) => ready(g)));
      const [g1, g2] = gateways.map((g) => g.url) as [string, string];

      const grant = await fetch(`${g1}/auth/token`, {
        method: "POST",
        body: new URLSearchParams({ grant_type: "password", username: "admin", password: ADMIN_PASSWORD }),
      });
      const { access_token: token } = (await grant.json()) as { access_token: string };
      const created = await fetch(`${g2}/v1/keys`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "soak", scopes: ["inference", "batch"] }),
      });
      const { key } = (await created.json()) as { key: string };
      if (!key) throw new Error(`no API key: ${created.status}`);
      const auth = { authorization: `Bearer ${key}` };
      const json = { ...auth, "content-type": "application/json" };

      const statusOf = async (base: string, model: string): Promise<string> => {
        const res = await fetch(`${base}/v1/models/${model}`, { headers: auth, signal: AbortSignal.timeout(10_000) });
        return ((await res.json()) as { status?: string }).status ?? `http ${res.status}`;
      };
      const hotUntil = Date.now() + 90_000;
      for (const model of Object.values(HOT)) {
        while ((await statusOf(g1, model).catch(() => "down")) !== "live") {
          if (Date.now() > hotUntil) throw new Error(`${model} not live within 90 s`);
          await sleep(250);
        }
      }

      let seq = 0;
      const nextGateway = () => (seq++ % 2 === 0 ? g1 : g2);
      const start = performance.now();
      const elapsedS = () => (performance.now() - start) / 1000;
      let stopping = false;
      const tallies = {
        chat: new Tally(),
        stream: new Tally(),
        embeddings: new Tally(),
        models: new Tally(),
        cold: new Tally(),
        coldStatus: new Tally(),
        batch: new Tally(),
      };

      /** One request; `check` says whether a 2xx answer is the right one. */
      const send = async (
        tally: Tally,
        url: string,
        init: RequestInit,
        check: (res: Response) => Promise<string | undefined>,
        timeoutMs = 60_000,
      ): Promise<boolean> => {
        tally.sent++;
        tally.inFlight++;
        const t0 = performance.now();
        try {
          const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
          if (res.status < 200 || res.status >= 300) {
            tally.fail(String(res.status), await res.text());
            return false;
          }
          const wrong = await check(res);
          if (wrong) {
            tally.fail("wrong answer", wrong);
            return false;
          }
          tally.ok++;
          tally.latencies.push([round(elapsedS(), 1), round(performance.now() - t0, 2)]);
          return true;
        } catch (error) {
          const e = error as Error & { cause?: { code?: string } };
          tally.fail(e.cause?.code ?? e.name, `${e.message} ${e.cause?.code ?? ""}`);
          return false;
        } finally {
          tally.inFlight--;
        }
      };
      const chatBody = (model: string, extra: Record<string, unknown> = {}) =>
        JSON.stringify({ model, messages: [{ role: "user", content: "Soak: say hi" }], max_tokens: 16, ...extra });
      const kinds: Record<keyof typeof RATES, () => Promise<boolean>> = {
        chat: () =>
          send(
            tallies.chat,
            `${nextGateway()}/v1/chat/completions`,
            { method: "POST", headers: json, body: chatBody(HOT.chat) },
            async (res) => {
              const body = (await res.json()) as { object?: string };
              return body.object === "chat.completion" ? undefined : JSON.stringify(body);
            },
          ),
        stream: () =>
          send(
            tallies.stream,
            `${nextGateway()}/v1/chat/completions`,
            {
              method: "POST",
              headers: json,
              body: chatBody(HOT.stream, { stream: true, max_tokens: 24, ignore_eos: true }),
            },
            async (res) => {
              const text = await res.text();
              return text.includes("data: [DONE]") ? undefined : text.slice(-200);
            },
          ),
        embeddings: () =>
          send(
            tallies.embeddings,
            `${nextGateway()}/v1/embeddings`,
            {
              method: "POST",
              headers: json,
              body: JSON.stringify({ model: HOT.embed, input: ["soak one", "soak two", "soak three", "soak four"] }),
            },
            async (res) => {
              const body = (await res.json()) as { data?: unknown[] };
              return body.data?.length === 4 ? undefined : JSON.stringify(body).slice(0, 200);
            },
          ),
        models: () =>
          send(tallies.models, `${nextGateway()}/v1/models`, { headers: auth }, async (res) => {
            const body = (await res.json()) as { data?: unknown[] };
            return Array.isArray(body.data) ? undefined : JSON.stringify(body).slice(0, 200);
          }),
      };
      const pending = new Set<Promise<unknown>>();
      const track = (p: Promise<unknown>) => {
        pending.add(p);
        void p.finally(() => pending.delete(p));
      };
      const due: Record<string, number> = {};
      let lastTick = performance.now();
      const pacer = setInterval(() => {
        const now = performance.now();
        const dt = (now - lastTick) / 1000;
        lastTick = now;
        for (const [kind, rate] of Object.entries(RATES) as [keyof typeof RATES, number][]) {
          due[kind] = (due[kind] ?? 0) + rate * dt;
          while ((due[kind] as number) >= 1) {
            due[kind] = (due[kind] as number) - 1;
            if (tallies[kind].inFlight >= MAX_IN_FLIGHT) tallies[kind].skipped++;
            else track(kinds[kind]());
          }
        }
      }, 20);

      // Cold starts: ask a dynamic model once it has idled out (idleTtl) and stopped, and again.
      const coldStarts: { model: string; t: number; ms: number; ok: boolean }[] = [];
      const coldLoop = async (model: string, delayMs: number) => {
        await sleep(delayMs);
        while (!stopping) {
          const status = await statusOf(nextGateway(), model).then(
            (s) => {
              tallies.coldStatus.sent++;
              tallies.coldStatus.ok++;
              return s;
            },
            (e: Error) => {
              tallies.coldStatus.sent++;
              tallies.coldStatus.fail(e.name, e.message);
              return "unknown";
            },
          );
          if (status !== "offline") {
            await sleep(1000);
            continue;
          }
          const t = elapsedS();
          const t0 = performance.now();
          const ok = await send(
            tallies.cold,
            `${nextGateway()}/v1/chat/completions`,
            { method: "POST", headers: json, body: chatBody(model) },
            async (res) =>
              ((await res.json()) as { object?: string }).object === "chat.completion"
                ? undefined
                : "not a chat.completion",
            90_000,
          );
          coldStarts.push({ model, t: round(t, 1), ms: round(performance.now() - t0, 0), ok });
        }
      };
      const coldLoops = COLD.map((model, i) => coldLoop(model, i * 7000));

      // The batch: uploaded and created at the start, through the Files and Batches API.
      const batchLines = Math.max(100, Math.round(BATCH_LINES_PER_MINUTE * (durationS / 60)));
      const form = new FormData();
      form.append("purpose", "batch");
      form.append("file", await batchFile(batchLines), "soak.jsonl");
      const upload = await fetch(`${g1}/v1/files`, { method: "POST", headers: auth, body: form });
      const file = (await upload.json()) as { id?: string };
      if (!file.id) throw new Error(`upload failed: ${upload.status} ${JSON.stringify(file)}`);
      const batchCreated = await fetch(`${g2}/v1/batches`, {
        method: "POST",
        headers: json,
        body: JSON.stringify({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" }),
      });
      const batch = (await batchCreated.json()) as { id?: string };
      if (!batch.id) throw new Error(`batch not created: ${batchCreated.status} ${JSON.stringify(batch)}`);
      const batchProgress: { t: number; status: string; completed: number; failed: number }[] = [];
      let batchEndedAt: number | undefined;
      const pollBatch = async () => {
        let state: { status: string; request_counts: { completed: number; failed: number } } | undefined;
        await send(tallies.batch, `${nextGateway()}/v1/batches/${batch.id}`, { headers: auth }, async (res) => {
          state = (await res.json()) as typeof state;
          return state?.status ? undefined : JSON.stringify(state).slice(0, 200);
        });
        if (!state) return;
        batchProgress.push({
          t: round(elapsedS(), 1),
          status: state.status,
          completed: state.request_counts.completed,
          failed: state.request_counts.failed,
        });
        if (batchEndedAt === undefined && ["completed", "failed", "expired", "cancelled"].includes(state.status)) {
          batchEndedAt = round(elapsedS(), 1);
        }
      };

      // Samples at 0, 10, 20 ... s: each process's RSS, fds and event-loop delay.
      const samples: Sample[] = [];
      const died = () => instances.find((i) => i.proc.exitCode !== null || i.proc.signalCode !== null);
      for (let n = 0; n * SAMPLE_SECONDS <= durationS; n++) {
        const at = n * SAMPLE_SECONDS;
        await sleep(Math.max(0, at * 1000 - (performance.now() - start)));
        const gone = died();
        if (gone)
          throw new Error(`${gone.name} exited during the soak:\n${readFileSync(gone.log, "utf8").slice(-3000)}`);
        samples.push(...(await Promise.all(instances.map((i) => sampleOf(i, at)))));
        track(pollBatch());
        const line = instances
          .map((i) => samples.findLast((s) => s.process === i.name))
          .map((s) => `${s?.process} ${s?.rssMb} MB ${s?.fds} fds ${s?.eldP99Ms} ms`)
          .join(" | ");
        process.stderr.write(`soak ${at}s: ${line}; batch ${batchProgress.at(-1)?.completed ?? "?"}/${batchLines}\n`);
      }
      clearInterval(pacer);
      stopping = true;
      await Promise.all([...pending, ...coldLoops]);
      await pollBatch();

      // Flat or not: each series' mean over the last third against the first third's.
      const span = durationS - warmupS;
      const firstWindow = [warmupS, warmupS + span / 3] as const;
      const lastWindow = [durationS - span / 3, durationS] as const;
      const inWindow = (s: Sample, [from, to]: readonly [number, number]) => s.t >= from && s.t <= to;
      const series = [
        { key: "rssMb", label: "RSS", unit: "MB", target: "target <= 1.10" },
        { key: "fds", label: "open file descriptors", unit: "fds", target: "target <= 1.10" },
        {
          key: "eldP99Ms",
          label: "event-loop delay p99",
          unit: "ms",
          target: "no upward trend (noisy: 2 shared cores)",
        },
      ] as const;
      const rows: Row[] = [];
      const summary: Record<string, Record<string, unknown>> = {};
      for (const instance of instances) {
        const mine = samples.filter((s) => s.process === instance.name);
        summary[instance.name] = {};
        for (const s of series) {
          const first = mean(mine.filter((x) => inWindow(x, firstWindow)).map((x) => x[s.key]));
          const last = mean(mine.filter((x) => inWindow(x, lastWindow)).map((x) => x[s.key]));
          const perHour = slope(mine.filter((x) => x.t >= warmupS).map((x) => ({ x: x.t / 3600, y: x[s.key] })));
          (summary[instance.name] as Record<string, unknown>)[s.key] = {
            first: round(first, 2),
            last: round(last, 2),
            ratio: round(last / first, 3),
            slopePerHour: round(perHour, 2),
          };
          rows.push({
            suite: "soak",
            case: `${instance.name}: ${s.label}, mean of the last third (${round(lastWindow[0], 0)}-${lastWindow[1]} s)`,
            baseline: `the same, mean of the first third after a ${warmupS} s warm-up (${firstWindow[0]}-${round(firstWindow[1], 0)} s)`,
            metric: s.unit,
            unit: s.unit,
            value: round(last, s.key === "fds" ? 1 : 2),
            baselineValue: round(first, s.key === "fds" ? 1 : 2),
            ratio: round(last / first, 3),
            note: `${s.target}; trend after warm-up ${perHour >= 0 ? "+" : ""}${round(perHour, 1)} ${s.unit}/h; ${minutes()} min, samples every ${SAMPLE_SECONDS} s`,
          });
        }
      }
      const all = Object.values(tallies);
      const sent = all.reduce((n, t) => n + t.sent, 0);
      const failures = all.reduce((n, t) => n + Object.values(t.failed).reduce((a, b) => a + b, 0), 0);
      const breakdown = Object.entries(tallies)
        .map(
          ([kind, t]) =>
            `${kind} ${t.ok}/${t.sent}${Object.keys(t.failed).length ? ` (${JSON.stringify(t.failed)})` : ""}`,
        )
        .join(", ");
      const okColdStarts = coldStarts.filter((c) => c.ok);
      const finalBatch = batchProgress.at(-1);
      rows.push({
        suite: "soak",
        case: "requests answered non-2xx, wrong or not at all",
        baseline: "requests sent",
        metric: "requests",
        unit: "requests",
        value: failures,
        baselineValue: sent,
        ratio: round(failures / sent, 5),
        note: `target 0; ${breakdown}; skipped (over ${MAX_IN_FLIGHT} in flight) ${all.reduce((n, t) => n + t.skipped, 0)}; ${okColdStarts.length} cold starts, median ${round(
          percentile(
            okColdStarts.map((c) => c.ms),
            0.5,
          ),
          0,
        )} ms`,
      });
      rows.push({
        suite: "soak",
        case: "batch lines done during the soak (uploaded through /v1/files at the start)",
        baseline: "lines in the batch",
        metric: "lines",
        unit: "lines",
        value: (finalBatch?.completed ?? 0) + (finalBatch?.failed ?? 0),
        baselineValue: batchLines,
        ratio: round(((finalBatch?.completed ?? 0) + (finalBatch?.failed ?? 0)) / batchLines, 3),
        note: `status ${finalBatch?.status ?? "unknown"}${batchEndedAt !== undefined ? ` at ${batchEndedAt} s` : ""}; ${finalBatch?.failed ?? 0} lines failed`,
      });

      const colors = ["#1f77b4", "#d62728", "#2ca02c"];
      const panelOf = (key: "rssMb" | "fds" | "eldP99Ms", title: string, unit: string) => ({
        title,
        unit,
        series: instances.map((instance, i) => ({
          name: instance.name,
          color: colors[i] as string,
          points: samples.filter((s) => s.process === instance.name).map((s) => ({ x: s.t / 60, y: s[key] })),
        })),
      });
      const bands: Band[] = [
        { from: 0, to: warmupS / 60, label: "warm-up", color: "#f2f2f2" },
        { from: firstWindow[0] / 60, to: firstWindow[1] / 60, label: "first third", color: "#e8f0fb" },
        { from: lastWindow[0] / 60, to: lastWindow[1] / 60, label: "last third", color: "#fbeeee" },
      ];
      const chart = lineChartSvg({
        title: `Soak: ${minutes()} min, ~${Object.values(RATES).reduce((a, b) => a + b, 0)} req/s through two gateways, a ${batchLines}-line batch, ${okColdStarts.length} cold starts (${new Date().toISOString().slice(0, 16)}Z)`,
        xLabel: "minutes since traffic started",
        xMax: durationS / 60,
        panels: [
          panelOf("rssMb", "RSS", "MB"),
          panelOf("fds", "Open file descriptors", "count"),
          panelOf("eldP99Ms", "Event-loop delay p99 over each 10 s", "ms"),
        ],
        bands,
      });
      mkdirSync(RESULTS_DIR, { recursive: true });
      await svgToPng(chart, path.join(RESULTS_DIR, "soak.png"));

      finished = true;
      return {
        rows,
        details: {
          minutes: minutes(),
          warmupSeconds: warmupS,
          sampleSeconds: SAMPLE_SECONDS,
          rates: RATES,
          processes: instances.map((i) => ({
            name: i.name,
            roles: i.name === "scheduler+batch" ? "scheduler,batch" : "gateway",
          })),
          summary,
          traffic: Object.fromEntries(Object.entries(tallies).map(([k, t]) => [k, t.summary()])),
          // Latency creeping up is a leak's other symptom: the same thirds, per kind of request.
          latencyByThird: Object.fromEntries(
            (["chat", "stream", "embeddings"] as const).map((kind) => {
              const within = ([from, to]: readonly [number, number]) =>
                tallies[kind].latencies.filter(([t]) => t >= from && t <= to).map(([, ms]) => ms);
              const stats = (ms: number[]) => ({
                p50Ms: round(percentile(ms, 0.5), 1),
                p99Ms: round(percentile(ms, 0.99), 1),
              });
              return [kind, { first: stats(within(firstWindow)), last: stats(within(lastWindow)) }];
            }),
          ),
          coldStarts,
          batch: { lines: batchLines, endedAt: batchEndedAt, progress: batchProgress },
          samples,
          chart: "bench/results/soak.png",
        },
      };
    } finally {
      // The scheduler last, given time to stop the model servers its local launcher started.
      for (const instance of [...instances].reverse()) await stopGently(instance.proc);
      await pg.drop();
      if (finished) rmSync(dir, { recursive: true, force: true });
      else process.stderr.write(`soak: logs kept in ${dir}\n`);
    }
  },
};
