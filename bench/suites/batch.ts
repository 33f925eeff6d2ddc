import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createPostgresDatabase } from "@switchyard/db/testing";
import { freePort } from "@switchyard/scheduler";
import { type Row, round, type Suite } from "../lib";
import { loadTest } from "../load";
import { child, SWITCHYARD_BIN, simulatorProcess, stop, waitFor } from "../procs";

const MODEL = "bench/batch";
const BODY = {
  model: MODEL,
  messages: [{ role: "user", content: "Summarise the benchmark in a line" }],
  max_tokens: 16,
};
/** What one replica gets for batches by default: 64 x (1 - 0.25). */
const CONCURRENCY = 48;

async function writeBatchFile(file: string, lines: number): Promise<void> {
  const out = createWriteStream(file);
  for (let i = 0; i < lines; i++) {
    const line = `${JSON.stringify({ custom_id: `line-${i}`, method: "POST", url: "/v1/chat/completions", body: BODY })}\n`;
    if (!out.write(line)) await once(out, "drain");
  }
  out.end();
  await once(out, "finish");
}

/** Resident and peak resident memory of a process, in MB (Linux /proc). */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN);
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
}

interface BatchRun {
  lines: number;
  /** Seconds from the first request to the end (the result's response_time). */
  runSeconds: number;
  /** Seconds from creation to completed (validation included). */
  totalSeconds: number;
  idleMb: number;
  peakMb: number;
}

/** The heap cap docs/batch.md suggests for a dedicated batch worker. */
const WORKER_HEAP_MB = 192;

/**
 * A fresh `serve` (so its peak memory is this batch's), one batch of `lines`, then stop. With
 * `worker`, serve runs no batches (`workerConfig` sets `batch.runInServe: false`) and a
 * separate `switchyard batch-worker` (heap capped) runs it: the memory measured is the worker's.
 */
async function runBatch(options: {
  dir: string;
  shared: string;
  config: string;
  workerConfig?: string;
  databaseUrl: string;
  lines: number;
}): Promise<BatchRun> {
  const input = path.join(options.shared, `batch-${options.lines}.jsonl`);
  await writeBatchFile(input, options.lines);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const serve: ChildProcess = child(
    process.execPath,
    [
      SWITCHYARD_BIN,
      "serve",
      "--port",
      String(port),
      "--data-dir",
      path.join(options.dir, "data"),
      "--config",
      options.workerConfig ?? options.config,
    ],
    {
      DATABASE_URL: options.databaseUrl,
      SWITCHYARD_ADMIN_PASSWORD: "bench-admin-password",
      SWITCHYARD_LOG_FORMAT: "json",
      SWITCHYARD_LOG_LEVEL: "warn",
    },
  );
  let worker: ChildProcess | undefined;
  const workerPort = options.workerConfig ? await freePort() : undefined;
  try {
    await waitFor(`${url}/health`);
    if (options.workerConfig) {
      worker = child(
        process.execPath,
        [
          SWITCHYARD_BIN,
          "batch-worker",
          "--data-dir",
          path.join(options.dir, "data"),
          "--config",
          options.config,
          "--metrics-port",
          String(workerPort),
        ],
        {
          DATABASE_URL: options.databaseUrl,
          NODE_OPTIONS: `--max-old-space-size=${WORKER_HEAP_MB}`,
          SWITCHYARD_LOG_FORMAT: "json",
          SWITCHYARD_LOG_LEVEL: "warn",
        },
      );
    }
    const measured = (worker ?? serve).pid as number;
    const grant = await fetch(`${url}/auth/token`, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "password", username: "admin", password: "bench-admin-password" }),
    });
    const { access_token: token } = (await grant.json()) as { access_token: string };
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    await waitFor(`${url}/v1/models/${MODEL}`, { headers });
    if (worker) await waitFor(`http://127.0.0.1:${workerPort}/health`);
    await new Promise((r) => setTimeout(r, 1000));
    const idleMb = memoryOf(measured).rss;
    const started = Date.now();
    const created = await fetch(`${url}/resource_server/v1/batches`, {
      method: "POST",
      headers,
      body: JSON.stringify({ model: MODEL, input_file: input }),
    });
    const { batch_id: id } = (await created.json()) as { batch_id: string };
    if (!id) throw new Error(`batch not created: ${created.status}`);
    let peakMb = 0;
    for (;;) {
      await new Promise((r) => setTimeout(r, 250));
      peakMb = Math.max(peakMb, memoryOf(measured).peak);
      const batch = (await (await fetch(`${url}/resource_server/v1/batches/${id}`, { headers })).json()) as {
        status: string;
        request_counts: { completed: number };
      };
      if (batch.status === "completed") break;
      if (batch.status !== "pending" && batch.status !== "running") throw new Error(`batch ended ${batch.status}`);
      if (Date.now() - started > 15 * 60_000) throw new Error("batch took over 15 minutes");
    }
    const totalSeconds = (Date.now() - started) / 1000;
    const result = (await (await fetch(`${url}/resource_server/v1/batches/${id}/result`, { headers })).json()) as {
      metrics: { response_time: number; num_responses: number };
    };
    if (result.metrics.num_responses !== options.lines) throw new Error(`only ${result.metrics.num_responses} answers`);
    rmSync(input, { force: true });
    return { lines: options.lines, runSeconds: result.metrics.response_time, totalSeconds, idleMb, peakMb };
  } finally {
    if (worker) await stop(worker);
    await stop(serve);
  }
}

/**
 * A 150,000-line batch against the simulator's fast profile, next to the simulator's own
 * ceiling measured in the same run by a plain client (autocannon) at the same concurrency the
 * batch may use on one replica (48); and the peak memory of the process running the worker
 * for 10k, 50k and 150k lines next to its idle memory: `serve` itself (PostgreSQL), and a
 * separate `switchyard batch-worker` with the heap cap docs/batch.md suggests.
 */
export const batch: Suite = {
  name: "batch",
  description:
    "150,000-line batch vs a plain client at the same concurrency; peak RSS of serve and of a batch-worker at 10k/50k/150k lines",
  async run() {
    const dir = mkdtempSync(path.join(tmpdir(), "sy-bench-batch-"));
    const shared = path.join(dir, "shared");
    mkdirSync(shared);
    mkdirSync(path.join(dir, "data"));
    const pg = await createPostgresDatabase("sy_bench_batch");
    const simPort = await freePort();
    const sim = simulatorProcess(MODEL, simPort, ["--profile", "fast"]);
    try {
      await waitFor(`http://127.0.0.1:${simPort}/health`);
      const config = path.join(dir, "bench.yaml");
      writeFileSync(
        config,
        `batch: { maxRunningBatches: 1 }
clusters:
  - name: bench
    nodes: [{ name: n1, gpus: 1, role: hot }]
    frameworks: [vllm]
    batch: { allowedDirs: ["${shared}"] }
models:
  - { id: ${MODEL}, cluster: bench, framework: vllm, capabilities: [chat, batch], placement: hot, node: n1, engine: { type: external, url: "http://127.0.0.1:${simPort}" } }
`,
      );
      // The same catalog for serve instances that leave batches to a separate batch-worker.
      const workerConfig = path.join(dir, "bench-serve-only.yaml");
      writeFileSync(
        workerConfig,
        readFileSync(config, "utf8").replace("maxRunningBatches: 1", "maxRunningBatches: 1, runInServe: false"),
      );
      const simUrl = `http://127.0.0.1:${simPort}/v1/chat/completions`;
      const plainArgs = {
        url: simUrl,
        method: "POST",
        body: JSON.stringify(BODY),
        headers: { "content-type": "application/json" },
        connections: CONCURRENCY,
      };
      await loadTest({ ...plainArgs, durationSeconds: 2 }); // warm-up
      const plainBefore = await loadTest({ ...plainArgs, durationSeconds: 10 });
      const runs: BatchRun[] = [];
      for (const lines of [10_000, 50_000, 150_000]) {
        runs.push(await runBatch({ dir, shared, config, databaseUrl: pg.url, lines }));
      }
      const workerRuns: BatchRun[] = [];
      for (const lines of [10_000, 50_000, 150_000]) {
        workerRuns.push(await runBatch({ dir, shared, config, workerConfig, databaseUrl: pg.url, lines }));
      }
      const plainAfter = await loadTest({ ...plainArgs, durationSeconds: 10 });
      const ceiling = (plainBefore.requestsPerSecond + plainAfter.requestsPerSecond) / 2;
      const rows: Row[] = [];
      for (const [where, big] of [
        ["in serve", runs.at(-1) as BatchRun],
        ["in a batch-worker process", workerRuns.at(-1) as BatchRun],
      ] as const) {
        const rate = big.lines / big.runSeconds;
        rows.push({
          suite: "batch",
          case: `150,000-line batch ${where} (simulator, fast profile)`,
          baseline: `plain client (autocannon), ${CONCURRENCY} connections, straight to the simulator`,
          metric: "requests/s",
          unit: "req/s",
          value: round(rate, 0),
          baselineValue: round(ceiling, 0),
          ratio: round(rate / ceiling, 3),
          note: `target >= 0.8; ${round(big.runSeconds, 1)} s running, ${round(big.totalSeconds, 1)} s from submit to completed (validation included); plain client ${round(plainBefore.requestsPerSecond, 0)} before, ${round(plainAfter.requestsPerSecond, 0)} after`,
        });
      }
      const memoryRow = (run: BatchRun, who: string, note: string): Row => ({
        suite: "batch",
        case: `peak RSS of ${who} running a ${run.lines.toLocaleString("en-US")}-line batch`,
        baseline: `RSS of the same ${who}, idle, before the batch`,
        metric: "MB",
        unit: "MB",
        value: round(run.peakMb, 0),
        baselineValue: round(run.idleMb, 0),
        ratio: round(run.peakMb / run.idleMb, 2),
        note: `target < 200 MB and flat; ${round(run.lines / run.runSeconds, 0)} lines/s${note}`,
      });
      for (const run of runs) rows.push(memoryRow(run, "serve", ""));
      for (const run of workerRuns) {
        rows.push(memoryRow(run, "batch-worker", `; --max-old-space-size=${WORKER_HEAP_MB}`));
      }
      return rows;
    } finally {
      await stop(sim);
      await pg.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
