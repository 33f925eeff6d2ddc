import { mkdir } from "node:fs/promises";
import path from "node:path";
import {
  type AuditActor,
  AuthService,
  ensureBootstrapAdmin,
  type RedisLink,
  recordAudit,
  sharedIssuer,
} from "@switchyard/auth";
import { allowedDirsFor, BatchMetrics, BatchService, BatchWorker, FileCleanup, FileStore } from "@switchyard/batch";
import { type Clock, systemClock } from "@switchyard/core";
import { type DatabaseOptions, openDatabase, syncCatalog } from "@switchyard/db";
import { Gateway } from "@switchyard/gateway";
import { type ColdStart, Scheduler } from "@switchyard/scheduler";
import { Projects, UsageRecorder } from "@switchyard/usage";
import { loadConfig } from "./config";
import { type AppContext, type ProcessContext, type Role, VERSION } from "./context";
import { createLaunchers, engineOptions } from "./launchers";
import type { Loggers } from "./logger";
import { createMetrics, registerDatabaseUp } from "./metrics";
import { connectRedis } from "./redis";
import type { InstanceRole } from "./roles";

export interface ComposeOptions<R extends Role> {
  role: R;
  dataDir: string;
  /** Config file; otherwise SWITCHYARD_CONFIG, otherwise the built-in catalog. */
  configFile?: string | undefined;
  env: NodeJS.ProcessEnv;
  loggers: Loggers;
  database: DatabaseOptions;
  /** A clock tests move; the system clock otherwise. */
  clock?: Clock | undefined;
  /** Redis for shared state (serve only); in-memory otherwise. */
  redisUrl?: string | undefined;
  /** Run the scheduler's loop on its timer (default); tests that drive it call `ctx.scheduler.tick()`. */
  schedulerAutoTick?: boolean | undefined;
  /** Run the batch worker in this process (serve: default `batch.runInServe`; the batch-worker role always does). */
  batchWorker?: boolean | undefined;
  /**
   * What the instance runs (`serve --roles`). `scheduler` decides whether its scheduler tries to
   * lead (without it, the process only follows: it routes by the database's deployments);
   * `batch`, whether a batch worker runs. Default: serve leads (its batch worker per
   * `batchWorker`), batch-worker only runs batches.
   */
  roles?: readonly InstanceRole[] | undefined;
  /** Told once when the first start creates the `admin` user (serve only). */
  onAdminCreated?: ((admin: { username: string; password: string; generated: boolean }) => void) | undefined;
}

/** What `compose` gives each role. */
export interface Composed {
  serve: AppContext;
  "batch-worker": ProcessContext;
}

/**
 * The one place a process is put together, for every role (`serve`, `batch-worker`, ...): it
 * loads the config, opens and migrates the database, and builds the shared resources first
 * (config, database, loggers, metrics, clock), then each service from them, in dependency
 * order: scheduler, file store, the usage recorder, then what the role runs (serve: auth, the
 * batch service, the gateway; both: the batch worker), which all record into the one recorder. Everything opened is registered
 * for `ctx.close()`, which closes it in reverse; a failure midway closes what was opened.
 */
export async function compose<R extends Role>(options: ComposeOptions<R>): Promise<Composed[R]> {
  const { role, env, loggers } = options;
  const clock = options.clock ?? systemClock;
  const logger = role === "serve" ? loggers.logger : loggers.logger.child({ component: role });
  const { config, source } = await loadConfig(options.configFile, env);

  const cleanup: (() => Promise<unknown>)[] = [];
  let publicUrl: string | undefined;
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
    })();
    return closing;
  };

  const db = await openDatabase(options.database);
  cleanup.push(() => db.close());
  try {
    const report = await db.migrate();
    for (const name of report.modified) {
      logger.warn({ migration: name }, "an applied migration's file changed since it was applied");
    }
    await syncCatalog(db.prisma, config);

    // The resources every service is built from, in the context from the start.
    const base = {
      role,
      roles: [] as InstanceRole[],
      config,
      configSource: source,
      env,
      dataDir: options.dataDir,
      db,
      logger,
      accessLog: loggers.access,
      metrics: createMetrics(),
      clock,
      version: VERSION,
      migrationsApplied: report.applied.length,
      publicUrl: () => publicUrl,
      setPublicUrl: (url: string) => {
        publicUrl = url;
        db.lock?.setUrl(url);
      },
      onClose: (step: () => Promise<unknown>) => {
        cleanup.push(step);
      },
      close,
    };

    const stopDatabaseUp = registerDatabaseUp(base.metrics.registry, (timeoutMs) => db.ping(timeoutMs));
    base.onClose(async () => stopDatabaseUp());

    // serve's HTTP front: shared state and authentication, before the scheduler as always.
    const front = role === "serve" ? await openFront(base, options) : undefined;
    const leads = options.roles ? options.roles.includes("scheduler") : role === "serve";
    const scheduler = await startScheduler(base, options.schedulerAutoTick ?? true, leads);
    const files = await openFileStore(base);
    const usage = startUsage(base);
    const runsBatches = options.roles
      ? options.roles.includes("batch")
      : role === "serve"
        ? (options.batchWorker ?? config.batch.runInServe)
        : true;
    // What runs here, in the canonical order (an all-in-one serve without its worker says so).
    base.roles.push(
      ...(["gateway", "scheduler", "batch"] as const).filter((r) =>
        r === "gateway" ? role === "serve" : r === "scheduler" ? leads : runsBatches,
      ),
    );

    if (!front) {
      const worker = runsBatches ? startBatchWorker(base, scheduler, files, logger) : undefined;
      const ctx: ProcessContext = {
        ...base,
        role: "batch-worker",
        scheduler,
        usage,
        batches: { ...files, worker },
        startedAt: clock.now(),
      };
      return ctx as Composed[R];
    }

    // Expired files and abandoned uploads leave the disk on every serve instance's timer.
    const fileCleanup = new FileCleanup(
      files.files,
      logger.child({ component: "files" }),
      config.batch.fileCleanupInterval * 1000,
    );
    fileCleanup.start();
    base.onClose(() => fileCleanup.stop());
    let worker: BatchWorker | undefined;
    const projects = new Projects(db, clock);
    const service = new BatchService({
      db,
      settings: config.batch,
      files: files.files,
      clock,
      allowedDirs: (cluster) => allowedDirsFor(cluster, files.filesDir, env),
      // Every batch is charged to a project (a fresh install's open `default` one until an admin adds others).
      projects,
      notify: (event) => (event.kind === "cancelled" ? worker?.cancel(event.batchId) : worker?.wake()),
    });
    if (config.batch.fileAccess === "service") {
      const users = await db.prisma.user.count();
      if (users > 1) {
        logger.warn(
          { users },
          "batch.fileAccess is 'service': every user's batches read and write shared storage with the service account's rights; set it to 'posix' (or 'world') when more than one user signs in (docs/security.md)",
        );
      }
    }
    const { redis, auth, shareIssuer } = front;
    const gateway = new Gateway({
      config,
      scheduler,
      auth,
      db,
      usage,
      logger,
      accessLog: loggers.access,
      registry: base.metrics.registry,
      requestMetrics: base.metrics,
      engines: engineOptions(config),
      redis,
      projects,
      batches: { service, files: files.files },
    });
    base.onClose(() => gateway.close());
    if (runsBatches) {
      // Batch lines are accounted with the same recorder as the user's own requests.
      worker = startBatchWorker(base, scheduler, files, logger.child({ component: "batch" }));
    }
    const ctx: AppContext = {
      ...base,
      role: "serve",
      scheduler,
      usage,
      auth,
      shareIssuer,
      gateway,
      batches: { ...files, service, worker },
      redis,
      startedAt: clock.now(),
    };
    return ctx as Composed[R];
  } catch (error) {
    await close();
    throw error;
  }
}

/** The shared resources each service is built from (the context before its services). */
type Resources = Pick<
  ProcessContext,
  "config" | "env" | "dataDir" | "db" | "logger" | "metrics" | "clock" | "publicUrl" | "onClose"
>;

/** Redis (when configured) and the auth service, with the first admin user created on the first start. */
async function openFront(
  res: Resources,
  options: Pick<ComposeOptions<Role>, "redisUrl" | "onAdminCreated">,
): Promise<{ redis: RedisLink | undefined; auth: AuthService; shareIssuer(url: string): Promise<void> }> {
  let redis: RedisLink | undefined;
  if (options.redisUrl) {
    // Losing it later is logged once by the link (and once when it is back), not per error.
    const connected = await connectRedis(options.redisUrl, { logger: res.logger, registry: res.metrics.registry });
    res.onClose(() => connected.close());
    redis = connected;
  }
  // The config's issuer; else the one the install's instances share (the first one's address,
  // a settings row: see shareIssuer), known once this one listens; its links name its own address.
  let shared: string | undefined;
  const trim = (url: string) => url.replace(/\/$/, "");
  const auth = await AuthService.create({
    db: res.db.prisma,
    settings: res.config.auth,
    clock: res.clock,
    logger: res.logger,
    issuer: () => trim(res.config.auth.issuer ?? shared ?? res.publicUrl() ?? "http://switchyard.invalid"),
    publicUrl: () => trim(res.config.auth.issuer ?? res.publicUrl() ?? "http://switchyard.invalid"),
    redis,
    env: res.env,
  });
  res.onClose(() => auth.close());
  const admin = await ensureBootstrapAdmin(res.db.prisma, res.env.SWITCHYARD_ADMIN_PASSWORD);
  if (admin) {
    res.logger.info({ username: admin.username, passwordGenerated: admin.generated }, "created the first admin user");
    options.onAdminCreated?.(admin);
  }
  const shareIssuer = async (url: string) => {
    if (!res.config.auth.issuer) shared = trim(await sharedIssuer(res.db.prisma, trim(url)));
  };
  return { redis, auth, shareIssuer };
}

async function startScheduler(res: Resources, autoTick: boolean, lead: boolean): Promise<Scheduler> {
  const scheduler = new Scheduler({
    db: res.db,
    config: res.config,
    clock: res.clock,
    logger: res.logger.child({ component: "scheduler" }),
    launchers: createLaunchers(res.config, res.dataDir, res.logger),
    engines: engineOptions(res.config),
    registry: res.metrics.registry,
    autoTick,
    lead,
    env: res.env,
    onColdStart: (start) => void auditColdStart(res, start),
  });
  await scheduler.start();
  res.onClose(() => scheduler.close());
  return scheduler;
}

/** A user's request started a model that was not running: who, which model, which deployment. */
async function auditColdStart(res: Resources, start: ColdStart): Promise<void> {
  const actor = start.requestedBy as Extract<AuditActor, { via: "api_key" | "access_token" | "oidc" }>;
  await recordAudit(res.db.prisma, actor, {
    action: "models.coldStart",
    target: { type: "model", id: `${start.cluster}/${start.model}` },
    details: { deployment: start.deploymentId },
    at: start.at,
  }).catch((error) => res.logger.warn({ err: error }, "could not write a cold start to the audit log"));
}

/**
 * Uploads and the OpenAI API's outputs live in the files directory, which is also where the
 * embedded default lets reference-API batches read and write.
 */
async function openFileStore(res: Resources): Promise<{ files: FileStore; filesDir: string }> {
  const filesDir = path.resolve(res.config.batch.filesDir ?? path.join(res.dataDir, "files"));
  await mkdir(filesDir, { recursive: true });
  return { files: new FileStore(res.db.prisma, filesDir, res.clock, res.config.batch), filesDir };
}

/**
 * The process's one usage recorder: the gateway's requests and the batch worker's lines go into
 * it; registered before them, so it is stopped (and its buffer written) after both have closed.
 */
function startUsage(res: Resources): UsageRecorder {
  const usage = new UsageRecorder(res.db, res.logger, { registry: res.metrics.registry });
  usage.start();
  res.onClose(() => usage.stop());
  return usage;
}

function startBatchWorker(
  res: Resources,
  scheduler: Scheduler,
  files: { files: FileStore },
  logger: Resources["logger"],
): BatchWorker {
  const worker = new BatchWorker({
    db: res.db,
    scheduler,
    config: res.config,
    settings: res.config.batch,
    engines: engineOptions(res.config),
    files: files.files,
    clock: res.clock,
    logger,
    metrics: new BatchMetrics(res.metrics.registry),
  });
  worker.start();
  res.onClose(() => worker.close());
  return worker;
}
