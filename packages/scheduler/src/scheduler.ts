import {
  type Clock,
  type ClusterConfig,
  formatDuration,
  type ModelStatus,
  modelStatusOf,
  type ResolvedModel,
  type SwitchyardConfig,
} from "@switchyard/core";
import type { Database, LeaderLock } from "@switchyard/db";
import {
  adapterFor,
  checkReady,
  type EngineAdapterOptions,
  expectedReadySeconds,
  upstreamAuthorization,
} from "@switchyard/engines";
import type { Logger } from "pino";
import { Counter, Gauge, type Registry } from "prom-client";
import type { Launcher } from "./launcher";
import { withoutAddresses } from "./logs";
import { type Occupant, placeModel, planEviction } from "./placement";
import { type DeploymentRecord, DeploymentStore, newServerKey, TransitionConflict } from "./store";

/** The PostgreSQL advisory lock key of the scheduler leader. */
export const LEADER_LOCK_KEY = 7_370_001;

/** A deployment changed state (the dashboard's live updates). */
export interface DeploymentEvent {
  deploymentId: string;
  cluster: string;
  model: string | null;
  from: DeploymentRecord["state"];
  to: DeploymentRecord["state"];
  cause: string;
  at: string;
}

/** What a caller learns about a model it wants to use. */
export interface Availability {
  model: string;
  cluster: string;
  status: ModelStatus;
  deploymentId: string | null;
  /** Where to send requests, when live. */
  baseUrl: string | null;
  /** 1-based position among the cluster's queued deployments, when queued. */
  queuePosition: number | null;
  /** Seconds until it should be live, when queued (at least) or starting. */
  etaSeconds: number | null;
  /** Why it is not live (maintenance, Slurm's pending reason, the last failure). */
  reason: string | null;
}

export interface SchedulerDeps {
  db: Database;
  config: SwitchyardConfig;
  clock: Clock;
  logger: Logger;
  /** One launcher per cluster that launches anything (coming-soon clusters have none). */
  launchers: Map<string, Launcher>;
  engines: EngineAdapterOptions;
  registry?: Registry;
  /** Run the reconcile loop on a timer (tests turn it off and call tick()). */
  autoTick?: boolean;
  /** Where external model servers' API keys are read from (`apiKeyEnv`); default process.env. */
  env?: NodeJS.ProcessEnv;
}

interface ModelEntry {
  key: string;
  config: ResolvedModel;
  cluster: ClusterConfig;
  rowId: string;
  /** An external server's key (`apiKeyEnv`), sent with every request and readiness check. */
  authorization: string | undefined;
}

const ACTIVE_STATES = new Set(["queued", "starting", "live"]);
const OPERATOR_FLAGS = `SELECT 'pinned' AS "kind", "id"::text AS "key", NULL AS "reason" FROM "models" WHERE "pinned"
UNION ALL SELECT 'maintenance', "name", "maintenanceReason" FROM "clusters" WHERE "maintenanceSince" IS NOT NULL`;

export function modelKey(cluster: string, model: string): string {
  return `${cluster}/${model}`;
}

/**
 * Decides what runs where. Every decision goes through the database (a compare-and-set per
 * transition, a unique index for starts), so a second instance can take over; only the
 * leader (PostgreSQL advisory lock; always, with PGlite) launches and stops servers.
 */
export class Scheduler {
  private readonly store: DeploymentStore;
  private readonly models = new Map<string, ModelEntry>();
  private readonly byRowId = new Map<string, ModelEntry>();
  private snapshot = new Map<string, DeploymentRecord>();
  /** Each launched server's key, by deployment (read with the snapshot, so every instance has it). */
  private serverKeys = new Map<string, string>();
  private pinned = new Set<string>();
  /** Operator maintenance windows (database), by cluster. */
  private maintenance = new Map<string, string>();
  private leaderLock: LeaderLock | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private lastLeaderAttempt = 0;
  private lastUseFlush = 0;
  // In-memory facts of this process.
  private readonly inflight = new Map<string, number>();
  private readonly pendingUse = new Map<string, Date>();
  /** Last request per deployment seen by this process (the database copy lags by up to 5 s). */
  private readonly lastUse = new Map<string, number>();
  private readonly pendingModelUse = new Map<string, Date>();
  private readonly healthFailures = new Map<string, number>();
  private readonly lastHealthCheck = new Map<string, number>();
  private readonly startingSince = new Map<string, number>();
  private readonly checking = new Set<string>();
  private readonly stopping = new Set<string>();
  private readonly restartBackoff = new Map<string, { failures: number; notBefore: number }>();
  private readonly evictingFor = new Map<string, Set<string>>();
  private readonly starts = new Map<string, Promise<void>>();
  private readonly listeners = new Set<(event: DeploymentEvent) => void>();
  private readonly gauge: Gauge<"cluster" | "state"> | undefined;
  private readonly launches: Counter<"cluster" | "outcome"> | undefined;

  constructor(private readonly deps: SchedulerDeps) {
    this.store = new DeploymentStore(deps.db);
    if (deps.registry) {
      this.gauge = new Gauge({
        name: "switchyard_deployments",
        help: "Deployments by cluster and state",
        labelNames: ["cluster", "state"],
        registers: [deps.registry],
      });
      this.launches = new Counter({
        name: "switchyard_scheduler_launches_total",
        help: "Model server launches by cluster and outcome",
        labelNames: ["cluster", "outcome"],
        registers: [deps.registry],
      });
    }
  }

  private get now(): number {
    return this.deps.clock.now();
  }

  get isLeader(): boolean {
    return this.leaderLock !== undefined;
  }

  // ---- start and stop -------------------------------------------------------------------

  async start(): Promise<void> {
    await this.store.init();
    const rows = await this.deps.db.prisma.model.findMany({
      where: { inCatalog: true },
      select: { id: true, name: true, clusterName: true },
    });
    const rowIds = new Map(rows.map((r) => [modelKey(r.clusterName, r.name), r.id]));
    for (const model of this.deps.config.models) {
      const key = modelKey(model.cluster, model.id);
      const cluster = this.deps.config.clusters.find((c) => c.name === model.cluster);
      const rowId = rowIds.get(key);
      if (!cluster || !rowId) continue;
      const auth = upstreamAuthorization(model, this.deps.env);
      if (auth.missing) {
        this.deps.logger.warn(
          { model: model.id, env: auth.missing },
          "scheduler: the model's API key variable is not set; its server is called without a key",
        );
      }
      if (model.engine.type === "ollama") {
        this.deps.logger.warn(
          { model: model.id },
          "scheduler: Ollama cannot require an API key; anyone who reaches its node and port can call it",
        );
      }
      const entry = { key, config: model, cluster, rowId, authorization: auth.authorization };
      this.models.set(key, entry);
      this.byRowId.set(rowId, entry);
    }
    for (const launcher of this.deps.launchers.values()) launcher.onChange(() => this.wake());
    await this.refresh();
    await this.tryLead();
    if (this.deps.autoTick ?? true) this.schedule(0);
  }

  /**
   * The loop: every `tickInterval`, but every 50 ms while something is queued or starting, so a
   * server that turns ready (or a Slurm job that starts) is noticed within 50 ms.
   */
  private schedule(delayMs: number): void {
    if (this.closed) return;
    this.timer = setTimeout(async () => {
      await this.tick();
      const busy = [...this.snapshot.values()].some(
        (d) => d.state === "queued" || d.state === "starting" || d.state === "draining",
      );
      this.schedule(busy ? 50 : Math.max(50, this.deps.config.scheduler.tickInterval * 1000));
    }, delayMs);
    this.timer.unref();
  }

  private async tryLead(): Promise<void> {
    if (this.leaderLock || this.closed) return;
    this.lastLeaderAttempt = this.now;
    const lock = await this.deps.db.tryLeaderLock(LEADER_LOCK_KEY);
    if (!lock) return;
    this.leaderLock = lock;
    void lock.lost.then(() => {
      if (this.leaderLock === lock) {
        this.deps.logger.warn("scheduler: lost the leader lock; following until it can lead again");
        this.leaderLock = undefined;
      }
    });
    this.deps.logger.info("scheduler: leading (launches and stops model servers)");
    await this.adopt();
  }

  /**
   * After a (re)start: Slurm jobs that belong to live deployments are adopted, jobs nobody
   * owns are cancelled (never duplicated); local servers do not outlive the process that
   * started them, so their deployments are closed and (hot) started again.
   */
  private async adopt(): Promise<void> {
    const now = new Date(this.now);
    for (const [clusterName, launcher] of this.deps.launchers) {
      const observations = await launcher.observe();
      const byDeployment = new Map(observations.map((o) => [o.deploymentId, o]));
      const mine = [...this.snapshot.values()].filter((d) => d.cluster === clusterName);
      for (const record of mine) {
        if (!["queued", "starting", "live", "draining"].includes(record.state) || !record.jobId) continue;
        const seen = byDeployment.get(record.id);
        if (launcher.kind === "slurm" && seen && seen.phase !== "exited") {
          this.deps.logger.info({ deployment: record.id, job: seen.jobId }, "scheduler: adopted a running Slurm job");
          if (record.state === "live") this.startingSince.set(record.id, this.now);
          continue;
        }
        await launcher.stop(record.id, record.jobId).catch(() => {});
        await this.move(
          record,
          "offline",
          launcher.kind === "local"
            ? "switchyard restarted; its local servers stopped with it"
            : "the job ended while the scheduler was down",
          now,
        );
      }
      const known = new Set(
        mine.filter((d) => ["queued", "starting", "live", "draining"].includes(d.state)).map((d) => d.id),
      );
      for (const observation of observations) {
        if (known.has(observation.deploymentId) || observation.phase === "exited") continue;
        this.deps.logger.warn(
          { deployment: observation.deploymentId, job: observation.jobId },
          "scheduler: cancelling an orphaned job",
        );
        await launcher
          .stop(observation.deploymentId, observation.jobId)
          .catch((error) => this.deps.logger.warn({ err: error }, "scheduler: could not cancel an orphaned job"));
      }
    }
    await this.refresh();
  }

  /** Stop the loop. Local servers are stopped (and their deployments closed); Slurm jobs keep running. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking;
    await this.flushUse(true);
    if (this.leaderLock) {
      const now = new Date(this.now);
      for (const [clusterName, launcher] of this.deps.launchers) {
        if (launcher.kind !== "local") continue;
        for (const record of this.snapshot.values()) {
          if (record.cluster !== clusterName || !["queued", "starting", "live", "draining"].includes(record.state))
            continue;
          if (record.jobId) await launcher.stop(record.id, record.jobId).catch(() => {});
          await this.move(record, "offline", "switchyard stopped", now);
        }
      }
      for (const launcher of this.deps.launchers.values()) await launcher.shutdown();
      await this.leaderLock.release();
      this.leaderLock = undefined;
    }
  }

  // ---- what callers use -----------------------------------------------------------------

  entry(cluster: string, model: string): ModelEntry | undefined {
    return this.models.get(modelKey(cluster, model));
  }

  /** Deployments by model row id, rebuilt after the snapshot changes (acquire() runs per request). */
  private byModel: Map<string, DeploymentRecord[]> | undefined;

  private remember(record: DeploymentRecord): void {
    this.snapshot.set(record.id, record);
    this.byModel = undefined;
  }

  private deploymentsOf(entry: ModelEntry): DeploymentRecord[] {
    if (!this.byModel) {
      this.byModel = new Map();
      for (const record of this.snapshot.values()) {
        const list = this.byModel.get(record.modelId);
        if (list) list.push(record);
        else this.byModel.set(record.modelId, [record]);
      }
    }
    return this.byModel.get(entry.rowId) ?? [];
  }

  /** The load time to expect from this model's engine here (the simulator's is scaled down). */
  effectiveLoadSeconds(model: ResolvedModel): number {
    return expectedReadySeconds(model, this.deps.engines);
  }

  private startTimeoutMs(model: ResolvedModel): number {
    const { startTimeoutFactor, minStartTimeout } = this.deps.config.scheduler;
    return Math.max(minStartTimeout, startTimeoutFactor * this.effectiveLoadSeconds(model)) * 1000;
  }

  /** Why a cluster takes no requests (coming soon, maintenance from config or an operator), if so. */
  clusterProblem(cluster: ClusterConfig): string | undefined {
    if (cluster.status === "coming_soon") return `cluster ${cluster.name} is not available yet`;
    const operator = this.maintenance.get(cluster.name);
    if (operator !== undefined) return `cluster ${cluster.name} is in maintenance${operator ? `: ${operator}` : ""}`;
    if (cluster.status === "maintenance")
      return `cluster ${cluster.name} is in maintenance${cluster.statusReason ? `: ${cluster.statusReason}` : ""}`;
    return undefined;
  }

  /** The model's status for users, from memory (no database round trip). */
  availability(cluster: string, model: string): Availability {
    const entry = this.entry(cluster, model);
    const base = { model, cluster, deploymentId: null, baseUrl: null, queuePosition: null, etaSeconds: null };
    if (!entry) return { ...base, status: "offline", reason: "not in the catalog" };
    const problem = this.clusterProblem(entry.cluster);
    if (problem) return { ...base, status: "offline", reason: problem };
    const deployments = this.deploymentsOf(entry);
    const status = modelStatusOf(deployments.map((d) => d.state));
    const current =
      deployments.find((d) => d.state === status) ??
      deployments.filter((d) => d.state === "failed").sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())[0];
    const load = this.effectiveLoadSeconds(entry.config);
    if (status === "live" && current) {
      return { ...base, status, deploymentId: current.id, baseUrl: this.baseUrl(current), reason: null };
    }
    if (status === "starting" && current) {
      const since = this.startingSince.get(current.id) ?? current.startedAt?.getTime() ?? this.now;
      return {
        ...base,
        status,
        deploymentId: current.id,
        etaSeconds: Math.max(0, Math.round((load - (this.now - since) / 1000) * 10) / 10),
        reason: null,
      };
    }
    if (status === "queued" && current) {
      return {
        ...base,
        status,
        deploymentId: current.id,
        queuePosition: this.queuePosition(current),
        etaSeconds: Math.round(load * 10) / 10,
        reason: current.stateReason,
      };
    }
    return { ...base, status: "offline", reason: current?.state === "failed" ? current.stateReason : null };
  }

  private queuePosition(record: DeploymentRecord): number {
    const queued = [...this.snapshot.values()]
      .filter((d) => d.cluster === record.cluster && d.state === "queued")
      .sort((a, b) => (a.queuedAt?.getTime() ?? 0) - (b.queuedAt?.getTime() ?? 0));
    return queued.findIndex((d) => d.id === record.id) + 1;
  }

  private baseUrl(record: DeploymentRecord): string | null {
    if (!record.host || !record.port) return null;
    return `http://${record.host.includes(":") ? `[${record.host}]` : record.host}:${record.port}`;
  }

  /**
   * Make sure the model is live or on its way: the first caller for a cold model creates its
   * deployment (1,000 concurrent callers still create exactly one), everyone gets its state,
   * queue position and ETA.
   */
  async ensureLive(cluster: string, model: string): Promise<Availability> {
    const entry = this.entry(cluster, model);
    if (!entry) return this.availability(cluster, model);
    if (this.clusterProblem(entry.cluster)) return this.availability(cluster, model);
    const active = this.deploymentsOf(entry).some((d) => ACTIVE_STATES.has(d.state));
    if (!active) {
      let start = this.starts.get(entry.key);
      if (!start) {
        start = this.enqueue(entry, "requested").finally(() => this.starts.delete(entry.key));
        this.starts.set(entry.key, start);
      }
      await start;
      this.wake();
    }
    return this.availability(cluster, model);
  }

  private async enqueue(entry: ModelEntry, cause: string): Promise<void> {
    const launcher = this.deps.launchers.get(entry.cluster.name);
    const serverKey = entry.config.engine.type === "external" ? null : newServerKey();
    const { record, created } = await this.store.enqueue({
      modelId: entry.rowId,
      cluster: entry.cluster.name,
      launcher: launcher?.kind ?? entry.cluster.launcher.type,
      gpus: entry.config.gpus,
      serverKey,
      cause,
      now: new Date(this.now),
    });
    this.remember(record);
    if (created) {
      if (serverKey) this.serverKeys.set(record.id, serverKey);
      this.deps.logger.info({ deployment: record.id, model: entry.config.id, cause }, "scheduler: queued a deployment");
      // The first step of every deployment is a change too (a dashboard shows "Queued" at once).
      this.emit({
        deploymentId: record.id,
        cluster: record.cluster,
        model: entry.config.id,
        from: "offline",
        to: "queued",
        cause,
        at: (record.queuedAt ?? new Date(this.now)).toISOString(),
      });
    }
  }

  /**
   * A live replica to send a request to, counted as in flight until `release()`. The least
   * loaded replica wins when there are several. Undefined when none is live.
   */
  acquire(
    cluster: string,
    model: string,
  ): { deploymentId: string; baseUrl: string; authorization?: string; release: () => void } | undefined {
    const entry = this.entry(cluster, model);
    if (!entry || this.clusterProblem(entry.cluster)) return undefined;
    let best: DeploymentRecord | undefined;
    for (const record of this.deploymentsOf(entry)) {
      if (record.state !== "live" || !this.baseUrl(record)) continue;
      if (!best || (this.inflight.get(record.id) ?? 0) < (this.inflight.get(best.id) ?? 0)) best = record;
    }
    if (!best) return undefined;
    const chosen = best;
    this.inflight.set(chosen.id, (this.inflight.get(chosen.id) ?? 0) + 1);
    const now = new Date(this.now);
    this.pendingUse.set(chosen.id, now);
    this.pendingModelUse.set(entry.rowId, now);
    this.lastUse.set(chosen.id, now.getTime());
    let released = false;
    const authorization = this.authorizationFor(chosen);
    return {
      deploymentId: chosen.id,
      baseUrl: this.baseUrl(chosen) as string,
      ...(authorization ? { authorization } : {}),
      release: () => {
        if (released) return;
        released = true;
        this.inflight.set(chosen.id, Math.max(0, (this.inflight.get(chosen.id) ?? 1) - 1));
      },
    };
  }

  /** Batch work keeps its model's deployment from eviction and idle stop until `until`. */
  async holdForBatch(cluster: string, model: string, until: number): Promise<void> {
    const entry = this.entry(cluster, model);
    if (!entry) return;
    for (const record of this.deploymentsOf(entry)) {
      if (!ACTIVE_STATES.has(record.state)) continue;
      await this.store.lease(record.id, new Date(until));
      record.busyUntil = new Date(until);
    }
  }

  /** Stop a deployment gracefully (operator action, eviction): no new requests, in-flight ones finish. */
  async drain(deploymentId: string, cause: string): Promise<void> {
    const record = this.snapshot.get(deploymentId) ?? (await this.store.get(deploymentId));
    if (!record) return;
    if (record.state === "live" || record.state === "starting") {
      await this.move(record, "draining", cause, new Date(this.now));
    } else if (record.state === "queued") {
      const launcher = this.deps.launchers.get(record.cluster);
      if (record.jobId && launcher) await launcher.stop(record.id, record.jobId).catch(() => {});
      await this.move(record, "offline", cause, new Date(this.now));
    }
    this.wake();
  }

  /** Listen to state changes of this process's decisions (returns the unsubscribe function). */
  subscribe(listener: (event: DeploymentEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: DeploymentEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.deps.logger.warn({ err: error }, "scheduler: a change listener failed");
      }
    }
  }

  // ---- operator actions (the control plane calls these) --------------------------------

  /** Start a model now (as a request would): its state, queue position and ETA. */
  startModel(cluster: string, model: string): Promise<Availability> {
    return this.ensureLive(cluster, model);
  }

  /** Drain and stop a model's active deployment; false when it had none. */
  async stopModel(cluster: string, model: string, cause = "stopped by an operator"): Promise<boolean> {
    const entry = this.entry(cluster, model);
    if (!entry) return false;
    const active = this.deploymentsOf(entry).filter((d) => ["queued", "starting", "live"].includes(d.state));
    for (const record of active) await this.drain(record.id, cause);
    return active.length > 0;
  }

  /** Stop the model's deployment, then start a fresh one once it is gone. */
  async restartModel(cluster: string, model: string, cause = "restarted by an operator"): Promise<Availability> {
    const entry = this.entry(cluster, model);
    if (!entry) return this.availability(cluster, model);
    await this.stopModel(cluster, model, cause);
    const deadline = Date.now() + this.deps.config.scheduler.drainTimeout * 1000 + 30_000;
    while (this.deploymentsOf(entry).some((d) => ["queued", "starting", "live", "draining"].includes(d.state))) {
      if (Date.now() > deadline) break;
      await this.tick();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return this.ensureLive(cluster, model);
  }

  /** Keep a model loaded (no idle stop, no eviction, no lifetime limit), or let it go again. */
  async setPinned(cluster: string, model: string, pinned: boolean): Promise<void> {
    const entry = this.entry(cluster, model);
    if (!entry) return;
    await this.deps.db.prisma.model.update({ where: { id: entry.rowId }, data: { pinned } });
    if (pinned) this.pinned.add(entry.rowId);
    else this.pinned.delete(entry.rowId);
  }

  isPinned(cluster: string, model: string): boolean {
    const entry = this.entry(cluster, model);
    return entry ? this.pinned.has(entry.rowId) : false;
  }

  /** Put a cluster in maintenance (requests get 503, nothing starts there) or end it (null). */
  async setMaintenance(cluster: string, reason: string | null): Promise<void> {
    await this.deps.db.prisma.cluster.update({
      where: { name: cluster },
      data:
        reason === null
          ? { maintenanceSince: null, maintenanceReason: null }
          : { maintenanceSince: new Date(this.now), maintenanceReason: reason },
    });
    await this.refresh();
    this.wake();
  }

  /** A deployment's state history, oldest first. */
  history(deploymentIds: string[]) {
    return this.store.transitions(deploymentIds);
  }

  /** Every deployment known now, for the jobs view. */
  deployments(): DeploymentRecord[] {
    return [...this.snapshot.values()];
  }

  /**
   * The `Authorization` a deployment's server wants: its own generated key when Switchyard
   * launched it, an external server's `apiKeyEnv` key otherwise (none for deployments started
   * before servers had keys).
   */
  private authorizationFor(record: DeploymentRecord): string | undefined {
    const entry = this.byRowId.get(record.modelId);
    if (!entry) return undefined;
    if (entry.config.engine.type === "external") return entry.authorization;
    return upstreamAuthorization(entry.config, this.deps.env, this.serverKeys.get(record.id)).authorization;
  }

  /** Readiness and health checks carry the model server's key, as requests do. */
  private probeHeaders(record: DeploymentRecord): Record<string, string> | undefined {
    const authorization = this.authorizationFor(record);
    return authorization ? { authorization } : undefined;
  }

  modelOf(record: DeploymentRecord): ResolvedModel | undefined {
    return this.byRowId.get(record.modelId)?.config;
  }

  inflightOf(deploymentId: string): number {
    return this.inflight.get(deploymentId) ?? 0;
  }

  /** When the deployment last took a request (or went live), from the database and this process. */
  private lastUsed(record: DeploymentRecord): number {
    return Math.max(
      record.liveAt?.getTime() ?? 0,
      record.lastRequestAt?.getTime() ?? 0,
      this.lastUse.get(record.id) ?? 0,
    );
  }

  // ---- the reconcile loop ---------------------------------------------------------------

  /** Ask for a tick soon (after a request for a cold model, a process exit). */
  wake(): void {
    if (this.closed) return;
    setImmediate(() => void this.tick());
  }

  /** One reconcile pass; concurrent calls coalesce into one more pass. */
  tick(): Promise<void> {
    if (this.ticking) {
      this.again = true;
      return this.ticking;
    }
    this.ticking = (async () => {
      do {
        this.again = false;
        try {
          await this.pass();
        } catch (error) {
          this.deps.logger.error({ err: error }, "scheduler: reconcile pass failed");
        }
      } while (this.again && !this.closed);
    })().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  private async pass(): Promise<void> {
    if (!this.leaderLock && this.now - this.lastLeaderAttempt > 5000) await this.tryLead();
    await this.refresh();
    if (!this.leaderLock || this.closed) return;
    const now = new Date(this.now);
    for (const [clusterName, launcher] of this.deps.launchers) await this.observe(clusterName, launcher, now);
    await this.checkStarting(now);
    await this.checkHealth(now);
    await this.applyLifetimes(now);
    await this.finishDraining(now);
    await this.ensureHotModels();
    await this.refresh();
    for (const cluster of this.deps.config.clusters) {
      if (!this.clusterProblem(cluster) && this.deps.launchers.has(cluster.name))
        await this.processQueue(cluster, new Date(this.now));
    }
    await this.flushUse(false);
    this.updateMetrics();
  }

  /** Re-read deployments and operator state from the database (what every pass starts with). */
  reload(): Promise<void> {
    return this.refresh();
  }

  private async refresh(): Promise<void> {
    const { records, serverKeys } = await this.store.active(new Date(this.now - 3_600_000));
    this.snapshot = new Map(records.map((r) => [r.id, r]));
    this.serverKeys = serverKeys;
    this.byModel = undefined;
    // Pinned models and clusters in maintenance in one raw read (this runs on every pass).
    const flags = await this.deps.db.query<{ kind: string; key: string; reason: string | null }>(OPERATOR_FLAGS, []);
    this.pinned = new Set(flags.filter((f) => f.kind === "pinned").map((f) => f.key));
    this.maintenance = new Map(flags.filter((f) => f.kind === "maintenance").map((f) => [f.key, f.reason ?? ""]));
  }

  /** A state change that tolerates losing a race (the next pass sees the winner's result). */
  private async move(
    record: DeploymentRecord,
    to: DeploymentRecord["state"],
    cause: string,
    now: Date,
    fields: Parameters<DeploymentStore["transition"]>[4] = {},
  ): Promise<DeploymentRecord | undefined> {
    try {
      const updated = await this.store.transition(record, to, cause, now, fields);
      this.remember(updated);
      if (to === "starting") this.startingSince.set(updated.id, now.getTime());
      if (to !== "live") this.healthFailures.delete(updated.id);
      this.deps.logger.info({ deployment: record.id, from: record.state, to, cause }, "scheduler: deployment state");
      this.emit({
        deploymentId: record.id,
        cluster: record.cluster,
        model: this.modelOf(record)?.id ?? null,
        from: record.state,
        to,
        cause,
        at: now.toISOString(),
      });
      return updated;
    } catch (error) {
      if (error instanceof TransitionConflict) return undefined;
      throw error;
    }
  }

  /** The server's last log lines for a failure reason, which users see: without its address. */
  private async lastLines(record: DeploymentRecord): Promise<string> {
    const tail = await this.deps.launchers.get(record.cluster)?.tail(record.id, 8);
    return tail ? `; last log lines:\n${withoutAddresses(tail, record)}` : "";
  }

  private async fail(record: DeploymentRecord, reason: string, now: Date): Promise<void> {
    const entry = this.byRowId.get(record.modelId);
    const launcher = this.deps.launchers.get(record.cluster);
    if (launcher && record.jobId) await launcher.stop(record.id, record.jobId).catch(() => {});
    await this.move(record, "failed", `${reason}${await this.lastLines(record)}`, now);
    if (entry?.config.placement === "hot") {
      const previous = this.restartBackoff.get(entry.key)?.failures ?? 0;
      const { initial, max } = this.deps.config.scheduler.restartBackoff;
      const delay = Math.min(max, initial * 2 ** previous) * 1000;
      this.restartBackoff.set(entry.key, { failures: previous + 1, notBefore: this.now + delay });
      this.deps.logger.warn(
        { model: entry.config.id, retryInMs: delay },
        "scheduler: hot model failed; restarting after backoff",
      );
    }
  }

  private async observe(clusterName: string, launcher: Launcher, now: Date): Promise<void> {
    let observations: Awaited<ReturnType<Launcher["observe"]>>;
    try {
      observations = await launcher.observe();
    } catch (error) {
      this.deps.logger.warn({ cluster: clusterName, err: error }, "scheduler: cannot observe the launcher's jobs");
      return;
    }
    const byDeployment = new Map(observations.map((o) => [o.deploymentId, o]));
    for (const record of [...this.snapshot.values()]) {
      if (record.cluster !== clusterName || !record.jobId || this.stopping.has(record.id)) continue;
      const seen = byDeployment.get(record.id);
      if (!seen) continue;
      if (seen.phase === "exited") {
        if (record.state === "draining") {
          await this.move(record, "offline", "stopped", now);
          await launcher.stop(record.id, record.jobId).catch(() => {});
        } else if (["queued", "starting", "live"].includes(record.state)) {
          await this.fail(record, seen.reason ?? "the server exited", now);
        }
        continue;
      }
      if (seen.phase === "pending" && record.state === "queued") {
        const reason = `waiting in Slurm: ${seen.reason ?? "pending"}`;
        if (record.stateReason !== reason) {
          const updated = await this.store.annotate(record, { stateReason: reason }).catch(() => undefined);
          if (updated) this.remember(updated);
        }
        continue;
      }
      if (seen.phase === "running") {
        const endpoint = seen.baseUrl ? new URL(seen.baseUrl) : undefined;
        const host = endpoint?.hostname.replace(/^\[|\]$/g, "") ?? null;
        const port = endpoint ? Number(endpoint.port) : null;
        if (record.state === "queued") {
          await this.move(
            record,
            "starting",
            `the Slurm job runs on ${seen.node ?? "a node"}; waiting for the server to be ready`,
            now,
            {
              host,
              port,
            },
          );
        } else if (endpoint && (record.host !== host || record.port !== port) && record.state === "starting") {
          const updated = await this.store.annotate(record, { host, port }).catch(() => undefined);
          if (updated) this.remember(updated);
        }
      }
    }
  }

  private async checkStarting(now: Date): Promise<void> {
    const starting = [...this.snapshot.values()].filter((d) => d.state === "starting" && !this.checking.has(d.id));
    await Promise.all(
      starting.map(async (record) => {
        const model = this.modelOf(record);
        if (!model) return;
        const since = this.startingSince.get(record.id) ?? record.startedAt?.getTime() ?? now.getTime();
        if (!this.startingSince.has(record.id)) this.startingSince.set(record.id, since);
        const base = this.baseUrl(record);
        if (base) {
          this.checking.add(record.id);
          try {
            const ready = await checkReady(base, adapterFor(model, this.deps.engines).readiness(model), {
              timeoutMs: 2000,
              headers: this.probeHeaders(record),
            });
            if (ready.ready) {
              await this.move(record, "live", "ready", new Date(this.now));
              const entry = this.byRowId.get(record.modelId);
              if (entry) this.restartBackoff.delete(entry.key);
              return;
            }
          } finally {
            this.checking.delete(record.id);
          }
        }
        if (now.getTime() - since > this.startTimeoutMs(model)) {
          await this.fail(record, `not ready within ${formatDuration(this.startTimeoutMs(model) / 1000)}`, now);
        }
      }),
    );
  }

  private async checkHealth(now: Date): Promise<void> {
    const interval = this.deps.config.scheduler.healthInterval * 1000;
    const live = [...this.snapshot.values()].filter(
      (d) =>
        d.state === "live" &&
        !this.checking.has(d.id) &&
        now.getTime() - (this.lastHealthCheck.get(d.id) ?? 0) >= interval,
    );
    await Promise.all(
      live.map(async (record) => {
        const model = this.modelOf(record);
        const base = this.baseUrl(record);
        if (!model || !base) return;
        this.lastHealthCheck.set(record.id, now.getTime());
        this.checking.add(record.id);
        try {
          const result = await checkReady(base, adapterFor(model, this.deps.engines).readiness(model), {
            timeoutMs: 2000,
            headers: this.probeHeaders(record),
          });
          if (result.ready) {
            this.healthFailures.delete(record.id);
            return;
          }
          const failures = (this.healthFailures.get(record.id) ?? 0) + 1;
          this.healthFailures.set(record.id, failures);
          if (failures >= this.deps.config.scheduler.healthFailures) {
            await this.move(
              record,
              "starting",
              `health check failed ${failures} times (${result.detail}); traffic stopped until it recovers`,
              now,
            );
          }
        } finally {
          this.checking.delete(record.id);
        }
      }),
    );
  }

  /** Dynamic models stop after their idle TTL and drain at their maximum lifetime. */
  private async applyLifetimes(now: Date): Promise<void> {
    const t = now.getTime();
    for (const record of [...this.snapshot.values()]) {
      if (record.state !== "live") continue;
      const model = this.modelOf(record);
      if (model?.placement !== "dynamic" || this.pinned.has(record.modelId)) continue;
      if ((record.busyUntil?.getTime() ?? 0) > t) continue;
      const liveAt = record.liveAt?.getTime() ?? t;
      if (t - liveAt >= model.maxLifetime * 1000) {
        await this.move(record, "draining", `maximum lifetime of ${formatDuration(model.maxLifetime)} reached`, now);
        continue;
      }
      if (t - this.lastUsed(record) >= model.idleTtl * 1000 && this.inflightOf(record.id) === 0) {
        await this.move(record, "draining", `idle for ${formatDuration(model.idleTtl)}`, now);
      }
    }
  }

  private async finishDraining(now: Date): Promise<void> {
    const draining = [...this.snapshot.values()].filter((d) => d.state === "draining" && !this.stopping.has(d.id));
    await Promise.all(
      draining.map(async (record) => {
        const timedOut =
          now.getTime() - (record.drainingAt?.getTime() ?? now.getTime()) >
          this.deps.config.scheduler.drainTimeout * 1000;
        if (this.inflightOf(record.id) > 0 && !timedOut) return;
        this.stopping.add(record.id);
        try {
          const launcher = this.deps.launchers.get(record.cluster);
          if (launcher && record.jobId) await launcher.stop(record.id, record.jobId);
          await this.move(record, "offline", `stopped (${record.stateReason ?? "drained"})`, new Date(this.now), {
            stateReason: record.stateReason,
          });
        } finally {
          this.stopping.delete(record.id);
        }
      }),
    );
  }

  private async ensureHotModels(): Promise<void> {
    for (const entry of this.models.values()) {
      if (
        entry.config.placement !== "hot" ||
        this.clusterProblem(entry.cluster) ||
        !this.deps.launchers.has(entry.cluster.name)
      )
        continue;
      if (this.deploymentsOf(entry).some((d) => ACTIVE_STATES.has(d.state))) continue;
      const backoff = this.restartBackoff.get(entry.key);
      if (backoff && this.now < backoff.notBefore) continue;
      await this.enqueue(entry, backoff ? `restarting a hot model (attempt ${backoff.failures + 1})` : "hot model");
    }
  }

  private occupants(cluster: string, now: number): Occupant[] {
    const busyWindow = this.deps.config.scheduler.busyWindow * 1000;
    return [...this.snapshot.values()]
      .filter(
        (d) => d.cluster === cluster && d.nodeName && ["queued", "starting", "live", "draining"].includes(d.state),
      )
      .map((d) => {
        const model = this.modelOf(d);
        const lastUsed = this.lastUsed(d);
        const evictable =
          d.state === "live" &&
          model?.placement === "dynamic" &&
          !this.pinned.has(d.modelId) &&
          this.inflightOf(d.id) === 0 &&
          (d.busyUntil?.getTime() ?? 0) <= now &&
          now - lastUsed >= busyWindow;
        return { deploymentId: d.id, node: d.nodeName as string, gpus: d.gpus, evictable, lastUsed };
      });
  }

  /** Queued deployments in arrival order: place and launch, evict to make room, or keep waiting. */
  private async processQueue(cluster: ClusterConfig, now: Date): Promise<void> {
    const launcher = this.deps.launchers.get(cluster.name);
    if (!launcher) return;
    const waiting = [...this.snapshot.values()]
      .filter((d) => d.cluster === cluster.name && d.state === "queued" && !d.jobId)
      .sort((a, b) => (a.queuedAt?.getTime() ?? 0) - (b.queuedAt?.getTime() ?? 0));
    for (const record of waiting) {
      const model = this.modelOf(record);
      if (!model) continue;
      const occupants = this.occupants(cluster.name, now.getTime());
      const node = placeModel(model, cluster.nodes, occupants);
      if (node) {
        this.evictingFor.delete(record.id);
        await this.launch(cluster, launcher, record, model, node.name, now);
        continue;
      }
      const pending = this.evictingFor.get(record.id);
      if (pending && [...pending].some((id) => this.snapshot.get(id)?.state === "draining")) continue;
      const plan = planEviction(model, cluster.nodes, occupants);
      if (plan) {
        this.evictingFor.set(record.id, new Set(plan.evict.map((v) => v.deploymentId)));
        for (const victim of plan.evict) {
          const victimRecord = this.snapshot.get(victim.deploymentId);
          if (victimRecord)
            await this.move(
              victimRecord,
              "draining",
              `evicted (least recently used) to make room for ${model.id}`,
              now,
            );
        }
        continue;
      }
      const role = model.placement === "hot" ? (model.node ? `node ${model.node}` : "a hot node") : "a rotating node";
      const reason = `waiting for ${model.gpus} free GPU${model.gpus === 1 ? "" : "s"} on ${role}`;
      if (record.stateReason !== reason) {
        const updated = await this.store.annotate(record, { stateReason: reason }).catch(() => undefined);
        if (updated) this.remember(updated);
      }
    }
  }

  private async launch(
    cluster: ClusterConfig,
    launcher: Launcher,
    queued: DeploymentRecord,
    model: ResolvedModel,
    nodeName: string,
    now: Date,
  ): Promise<void> {
    const node = cluster.nodes.find((n) => n.name === nodeName);
    if (!node) return;
    const keyed = await this.withServerKey(queued, model);
    if (!keyed) return;
    const { record, serverKey } = keyed;
    try {
      const job = await launcher.launch({
        deploymentId: record.id,
        model,
        cluster: cluster.name,
        node,
        gpus: model.gpus,
        serverKey,
      });
      this.launches?.inc({ cluster: cluster.name, outcome: "launched" });
      const url = job.baseUrl ? new URL(job.baseUrl) : undefined;
      if (launcher.kind === "local") {
        await this.move(record, "starting", `started on ${node.name}`, now, {
          node: node.name,
          jobId: job.jobId,
          logPath: job.logPath,
          host: url?.hostname ?? null,
          port: url ? Number(url.port) : null,
        });
      } else {
        // Submitted: it stays queued until Slurm runs it (its pending reason is shown meanwhile).
        const updated = await this.store.annotate(record, {
          node: node.name,
          jobId: job.jobId,
          logPath: job.logPath,
          stateReason: `submitted to Slurm as job ${job.jobId}`,
        });
        this.remember(updated);
      }
    } catch (error) {
      this.launches?.inc({ cluster: cluster.name, outcome: "failed" });
      await this.fail(record, `could not launch: ${(error as Error).message}`, now);
    }
  }

  /**
   * The deployment with the key its server is to require. One queued before servers had keys
   * gets one now, stored before anything runs (undefined: someone else changed it meanwhile).
   */
  private async withServerKey(
    record: DeploymentRecord,
    model: ResolvedModel,
  ): Promise<{ record: DeploymentRecord; serverKey: string | null } | undefined> {
    if (model.engine.type === "external") return { record, serverKey: null };
    const known = this.serverKeys.get(record.id);
    if (known) return { record, serverKey: known };
    const serverKey = newServerKey();
    try {
      const updated = await this.store.annotate(record, { serverKey });
      this.remember(updated);
      this.serverKeys.set(record.id, serverKey);
      return { record: updated, serverKey };
    } catch (error) {
      if (error instanceof TransitionConflict) return undefined;
      throw error;
    }
  }

  private async flushUse(force: boolean): Promise<void> {
    if (!force && this.now - this.lastUseFlush < 5000) return;
    this.lastUseFlush = this.now;
    if (this.pendingUse.size === 0 && this.pendingModelUse.size === 0) return;
    const uses = new Map(this.pendingUse);
    const models = new Map(this.pendingModelUse);
    this.pendingUse.clear();
    this.pendingModelUse.clear();
    await this.store
      .recordUse(uses, models)
      .catch((error) => this.deps.logger.warn({ err: error }, "scheduler: could not record use"));
  }

  private updateMetrics(): void {
    if (!this.gauge) return;
    this.gauge.reset();
    for (const record of this.snapshot.values()) this.gauge.inc({ cluster: record.cluster, state: record.state });
  }
}
