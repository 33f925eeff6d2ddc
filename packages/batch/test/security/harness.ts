import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  type BatchSettings,
  type ClusterConfig,
  parseConfigText,
  type ResolvedModel,
  type SwitchyardConfig,
} from "@switchyard/core";
import { openTestDatabase, type TestDatabase } from "@switchyard/db/testing";
import type { Scheduler } from "@switchyard/scheduler";
import pino from "pino";
import { Registry } from "prom-client";
import { Pool } from "undici";
import { BatchMetrics, BatchRun, BatchService, FileStore } from "../../src";
import type { AccountLookup } from "../../src/access";

/**
 * A real batch service and worker runs (embedded database, real files) over a cluster whose
 * allowed directory is `<root>/projects`. The scheduler never has the model live: a run
 * opens its files, validates, and then waits for the model, which is all these attacks need.
 */
export interface Harness {
  root: string;
  projects: string;
  /** Outside every allowed directory: what an attacker wants read or overwritten. */
  outside: string;
  /** `<root>/world` (0755), the cluster's `batch.worldReadableRoots` when `worldRoot` is set. */
  world: string;
  db: TestDatabase;
  service: BatchService;
  userId: string;
  /** `POST /resource_server/v1/batches` as the harness's user: the batch's id and paths. */
  create(inputFile: string, outputFolder?: string): Promise<{ id: string; results: string; dir: string }>;
  /** Start a worker run of the batch; `stop()` ends it at a checkpoint. */
  run(id: string): { done: Promise<void>; stop(): Promise<void> };
  batch(id: string): Promise<{ status: string; errors: unknown; fileRefs: any }>;
  close(): Promise<void>;
}

export const MODEL = "org/batchy";

export function chatLines(count: number): string {
  return Array.from({ length: count }, (_, i) =>
    JSON.stringify({
      custom_id: `req-${i}`,
      method: "POST",
      url: "/v1/chat/completions",
      body: { model: MODEL, messages: [{ role: "user", content: `q${i}` }] },
    }),
  )
    .map((line) => `${line}\n`)
    .join("");
}

function config(projects: string, extra: string, worldRoots: string[] = []): SwitchyardConfig {
  const parsed = parseConfigText(`
batch:
  checkpointInterval: 100ms
  activePerUser: 50
${extra}
clusters:
  - name: lab
    nodes: [{ name: n1, gpus: 8, role: hot }]
    frameworks: [vllm]
    batch: { allowedDirs: ["${projects}"], worldReadableRoots: ${JSON.stringify(worldRoots)} }
models:
  - { id: ${MODEL}, cluster: lab, framework: vllm, capabilities: [chat, batch], placement: hot, node: n1, engine: { type: simulator } }
`);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return parsed.config;
}

/** A scheduler whose model never becomes live (no request is ever sent). */
const idleScheduler = {
  deployments: () => [],
  modelOf: () => undefined,
  ensureLive: async () => ({ status: "starting", queuePosition: null, etaSeconds: null, reason: null }),
  holdForBatch: async () => {},
  setBacklog: () => {},
  acquire: () => undefined,
} as unknown as Scheduler;

export async function startHarness(
  options: { username?: string; extraConfig?: string; accounts?: AccountLookup; worldRoot?: boolean } = {},
): Promise<Harness> {
  const root = mkdtempSync(path.join(tmpdir(), "sy-sec-batch-"));
  const projects = path.join(root, "projects");
  const outside = path.join(root, "outside");
  mkdirSync(projects, { recursive: true, mode: 0o755 });
  mkdirSync(outside, { recursive: true });
  const world = path.join(root, "world");
  if (options.worldRoot) mkdirSync(world, { mode: 0o755 });
  const filesDir = path.join(root, "files");
  mkdirSync(filesDir);
  const cfg = config(projects, options.extraConfig ?? "", options.worldRoot ? [world] : []);
  const settings: BatchSettings = cfg.batch;
  const db = await openTestDatabase("pglite");
  const user = await db.prisma.user.create({ data: { username: options.username ?? "alice" } });
  const files = new FileStore(db.prisma, filesDir);
  const clock = { now: () => Date.now() };
  const service = new BatchService({
    db,
    settings,
    files,
    clock,
    allowedDirs: () => [projects],
    ...(options.accounts ? { accounts: options.accounts } : {}),
  });
  const logger = pino({ level: "silent" });
  const metrics = new BatchMetrics(new Registry());
  const pools: Pool[] = [];
  return {
    root,
    projects,
    outside,
    world,
    db,
    service,
    userId: user.id,
    async create(inputFile, outputFolder) {
      const model = cfg.models[0] as ResolvedModel;
      const cluster = cfg.clusters[0] as ClusterConfig;
      const detail = await service.createReference(
        user.id,
        { model: MODEL, input_file: inputFile, ...(outputFolder ? { output_folder_path: outputFolder } : {}) },
        () => ({ model, cluster }),
      );
      const results = detail.results_file as string;
      return { id: detail.batch_id, results, dir: path.dirname(results) };
    },
    run(id) {
      const run = new BatchRun(id, {
        db,
        scheduler: idleScheduler,
        config: cfg,
        settings,
        engines: {},
        files,
        clock,
        logger,
        metrics,
        pool: (url) => {
          const pool = new Pool(url);
          pools.push(pool);
          return pool;
        },
        sharing: () => 1,
        workerId: "test-worker",
      });
      const done = run.run();
      return {
        done,
        async stop() {
          run.stop();
          await done;
        },
      };
    },
    async batch(id) {
      const row = await db.prisma.batch.findUniqueOrThrow({ where: { id } });
      return { status: row.status, errors: row.errors, fileRefs: row.fileRefs };
    },
    async close() {
      await Promise.all(pools.map((p) => p.close()));
      await db.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Poll until `check` holds (or fail after `ms`). */
export async function until(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function writeInput(file: string, lines = 3, mode = 0o644): string {
  writeFileSync(file, chatLines(lines), { mode });
  return file;
}
