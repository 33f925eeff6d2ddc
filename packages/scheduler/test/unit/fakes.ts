import { ManualClock, type SwitchyardConfig, type SwitchyardConfigInput } from "@switchyard/core";
import { syncCatalog } from "@switchyard/db";
import { openTestDatabase, type TestDatabase } from "@switchyard/db/testing";
import type { JobObservation, LaunchedJob, Launcher, LauncherCapabilities, LaunchRequest } from "../../src/launcher";
import { processQueue } from "../../src/reconcile/queue";
import { checkStarting } from "../../src/reconcile/readiness";
import { createResources, refresh, type SchedulerResources } from "../../src/resources";
import { ensureLive } from "../../src/routing/availability";
import { quiet, testConfig } from "../harness";

/**
 * A launcher that runs nothing: `launch()` records the request and hands out an address, and
 * the test says what `observe()` sees of each job. Its capabilities are the test's choice, so
 * the same fake plays a local launcher or a Slurm one.
 */
export class FakeLauncher implements Launcher {
  readonly kind = "local" as const;
  readonly launched: LaunchRequest[] = [];
  readonly stopped: string[] = [];
  /** What observe() reports, by deployment id. */
  readonly jobs = new Map<string, JobObservation>();
  /** Make the next launch() throw this. */
  failNext: Error | undefined;
  private nextJob = 100;

  constructor(
    readonly capabilities: LauncherCapabilities = { serversSurviveRestart: false, launchReaches: "running" },
  ) {}

  async launch(request: LaunchRequest): Promise<LaunchedJob> {
    if (this.failNext) {
      const error = this.failNext;
      this.failNext = undefined;
      throw error;
    }
    this.launched.push(request);
    const jobId = String(this.nextJob++);
    const baseUrl = `http://127.0.0.1:${20_000 + this.launched.length}`;
    const running = this.capabilities.launchReaches === "running";
    this.jobs.set(request.deploymentId, {
      deploymentId: request.deploymentId,
      jobId,
      phase: running ? "running" : "pending",
      ...(running ? { baseUrl } : { reason: "Resources" }),
    });
    return running ? { jobId, baseUrl, logPath: "" } : { jobId, logPath: "", reason: `submitted as fake job ${jobId}` };
  }

  async observe(): Promise<JobObservation[]> {
    return [...this.jobs.values()];
  }

  /** The job of a submitted deployment starts running (as Slurm would), answering at `baseUrl`. */
  run(deploymentId: string, baseUrl: string): void {
    const job = this.jobs.get(deploymentId);
    if (!job) throw new Error(`no job for ${deploymentId}`);
    this.jobs.set(deploymentId, { deploymentId, jobId: job.jobId, phase: "running", baseUrl, node: "gpu-7" });
  }

  exit(deploymentId: string, reason = "the server exited (exit code 1)"): void {
    const job = this.jobs.get(deploymentId);
    if (!job) throw new Error(`no job for ${deploymentId}`);
    this.jobs.set(deploymentId, { deploymentId, jobId: job.jobId, phase: "exited", reason });
  }

  async stop(deploymentId: string): Promise<void> {
    this.stopped.push(deploymentId);
    this.jobs.delete(deploymentId);
  }

  async tail(): Promise<string> {
    return "CUDA out of memory at 10.1.2.3:8000";
  }

  onChange(): void {}

  async shutdown(): Promise<void> {}
}

let shared: Promise<TestDatabase> | undefined;

/**
 * One migrated in-memory PGlite per test file (migrating takes seconds), emptied of
 * deployments and operator flags for each world. Close it in the file's `afterAll`.
 */
async function sharedDatabase(): Promise<TestDatabase> {
  shared ??= openTestDatabase("pglite");
  const db = await shared;
  await db.query('TRUNCATE "deployment_transitions", "deployments", "model_demand" CASCADE', []);
  await db.query('UPDATE "models" SET "pinned" = false, "lastRequestAt" = NULL', []);
  await db.query('UPDATE "clusters" SET "maintenanceSince" = NULL, "maintenanceReason" = NULL', []);
  return db;
}

export async function closeSharedDatabase(): Promise<void> {
  const db = await shared;
  shared = undefined;
  await db?.close();
}

export interface UnitWorld {
  res: SchedulerResources;
  db: TestDatabase;
  config: SwitchyardConfig;
  clock: ManualClock;
  launcher: FakeLauncher;
  /** Whether each server (by base URL) answers its readiness check; unknown ones do not. */
  ready: Map<string, boolean>;
  wakes: number;
  close(): Promise<void>;
}

/**
 * The scheduler's shared resources on a fresh in-memory PGlite (a real database), with the
 * catalog of the scheduler tests, a fake launcher, a manual clock and a probe the test controls.
 */
export async function unitWorld(
  options: { capabilities?: LauncherCapabilities; config?: Partial<SwitchyardConfigInput> } = {},
): Promise<UnitWorld> {
  const config = testConfig("local", "/nonexistent", options.config);
  const db = await sharedDatabase();
  await syncCatalog(db.prisma, config);
  // Now, not a fixed date: the store keeps failures for an hour by the rows' own (real) update times.
  const clock = new ManualClock(Date.now());
  const launcher = new FakeLauncher(options.capabilities);
  const ready = new Map<string, boolean>();
  const world = {
    db,
    config,
    clock,
    launcher,
    ready,
    wakes: 0,
    close: async () => {},
  } as UnitWorld;
  world.res = createResources(
    {
      db,
      config,
      clock,
      logger: quiet,
      launchers: new Map([["lab", launcher]]),
      engines: { switchyardBin: "/nonexistent", loadTimeScale: 1 },
      env: {},
    },
    {
      wake: () => {
        world.wakes++;
      },
      probe: async (baseUrl) =>
        ready.get(baseUrl) ? { ready: true, detail: "ok" } : { ready: false, detail: `GET ${baseUrl}/health: refused` },
    },
  );
  await world.res.store.init();
  world.res.catalog.load(await world.res.store.catalogRows(), quiet);
  await refresh(world.res);
  return world;
}

/** The current record of a model's newest deployment in the snapshot. */
export function deploymentOf(world: UnitWorld, model: string) {
  const entry = world.res.catalog.entry("lab", model);
  if (!entry) throw new Error(`${model} is not in the catalog`);
  const all = world.res.snapshot.ofModel(entry.rowId);
  return all[all.length - 1];
}

export async function historyOf(world: UnitWorld, deploymentId: string): Promise<string[]> {
  const rows = await world.res.store.transitions([deploymentId]);
  return rows.map((r) => `${r.fromState}->${r.toState}: ${r.cause}`);
}

/** Request a model and run the steps that bring it live (queue, launch, a ready probe). */
export async function bringLive(world: UnitWorld, model: string) {
  await ensureLive(world.res, "lab", model);
  await processQueue(world.res, world.config.clusters[0]!, new Date(world.clock.now()));
  const starting = deploymentOf(world, model);
  if (starting?.state !== "starting") throw new Error(`${model} did not start: ${starting?.stateReason}`);
  world.ready.set(`http://${starting.host}:${starting.port}`, true);
  await checkStarting(world.res, new Date(world.clock.now()));
  const live = deploymentOf(world, model);
  if (live?.state !== "live") throw new Error(`${model} did not go live`);
  return live;
}
