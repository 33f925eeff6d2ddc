import type { ClusterConfig, ResolvedModel } from "@switchyard/core";
import { expectedReadySeconds } from "@switchyard/engines";
import type { ModelEntry } from "./catalog-index";
import type { DeploymentEvent } from "./events";
import { Leadership } from "./leadership";
import * as operator from "./operator";
import { checkHealth } from "./reconcile/health";
import { ReconcileLoop } from "./reconcile/loop";
import { reconcile } from "./reconcile/pass";
import {
  type ColdStartRequester,
  createResources,
  refresh,
  type SchedulerDeps,
  type SchedulerResources,
} from "./resources";
import { acquire, holdForBatch, type Replica, reportFailure, reportSuccess } from "./routing/acquire";
import { type Availability, availability, ensureLive } from "./routing/availability";
import type { ReplicaFailure } from "./routing/faults";
import type { DeploymentRecord } from "./store";

/**
 * Decides what runs where. Every decision goes through the database (a compare-and-set per
 * transition, a unique index for starts), so a second instance can take over; only the
 * leader (PostgreSQL advisory lock; always, with PGlite) launches and stops servers.
 *
 * This class only wires the parts together and keeps the API the gateway, the control plane
 * and the batch worker use; each method says which part does the work (docs/architecture.md
 * has the map).
 */
export class Scheduler {
  private readonly res: SchedulerResources;
  private readonly leadership: Leadership;
  private readonly loop: ReconcileLoop;

  /** Whether any model may have more than one replica (then demand is shared with the leader). */
  private readonly scalable: boolean;

  constructor(private readonly deps: SchedulerDeps) {
    this.scalable = deps.config.models.some((model) => model.maxReplicas > 1);
    this.res = createResources(deps, { wake: () => this.wake() });
    this.leadership = new Leadership(deps.db, this.res);
    this.loop = new ReconcileLoop(this.res, () => this.pass());
  }

  get isLeader(): boolean {
    return this.leadership.isLeader;
  }

  // ---- start and stop -------------------------------------------------------------------

  async start(): Promise<void> {
    await this.res.store.init();
    this.res.catalog.load(await this.res.store.catalogRows(), this.res.logger);
    for (const launcher of this.res.launchers.values()) launcher.onChange(() => this.wake());
    await refresh(this.res);
    await this.tryLead();
    if (this.deps.autoTick ?? true) this.loop.schedule(0);
  }

  /** Stop the loop. Servers that do not survive a restart are stopped (their deployments closed); Slurm jobs keep running. */
  async close(): Promise<void> {
    await this.loop.close();
    await this.res.inFlight.flush(this.res.store, this.res.logger, this.res.now(), true);
    await this.leadership.stepDown();
  }

  /** Whether this process tries to lead at all (`lead: false`: it only follows). */
  get leads(): boolean {
    return this.deps.lead ?? true;
  }

  private async tryLead(): Promise<void> {
    if (this.leads && !this.loop.isClosed) await this.leadership.tryLead();
  }

  // ---- routing: what callers use (routing/) ---------------------------------------------

  entry(cluster: string, model: string): ModelEntry | undefined {
    return this.res.catalog.entry(cluster, model);
  }

  /** The load time to expect from this model's engine here (the simulator's is scaled down). */
  effectiveLoadSeconds(model: ResolvedModel): number {
    return expectedReadySeconds(model, this.deps.engines);
  }

  /** Why a cluster takes no requests (coming soon, maintenance from config or an operator), if so. */
  clusterProblem(cluster: ClusterConfig): string | undefined {
    return this.res.snapshot.clusterProblem(cluster);
  }

  availability(cluster: string, model: string): Availability {
    return availability(this.res, cluster, model);
  }

  /** See routing/availability.ts; `requestedBy` names the user whose request starts a cold model. */
  ensureLive(cluster: string, model: string, requestedBy?: ColdStartRequester): Promise<Availability> {
    return ensureLive(this.res, cluster, model, requestedBy);
  }

  acquire(cluster: string, model: string): Replica | undefined {
    return acquire(this.res, cluster, model);
  }

  /** A request to this replica timed out or found no server: it may leave rotation (routing/faults.ts). */
  reportFailure(deploymentId: string, failure: ReplicaFailure): void {
    reportFailure(this.res, deploymentId, failure);
  }

  /** A request to this replica got an answer. */
  reportSuccess(deploymentId: string): void {
    reportSuccess(this.res, deploymentId);
  }

  /**
   * Count one request waiting for a model that has no replica for it (a held cold request) as
   * demand, until the returned function runs. Demand decides how many replicas run.
   */
  holdDemand(cluster: string, model: string): () => void {
    const entry = this.res.catalog.entry(cluster, model);
    return entry ? this.res.demand.hold(entry.rowId) : () => {};
  }

  /** A batch's lines not sent yet count as demand for its model (`key` names the batch; 0 ends it). */
  setBacklog(key: string, cluster: string, model: string, lines: number): void {
    const entry = this.res.catalog.entry(cluster, model);
    if (entry) this.res.demand.setBacklog(key, entry.rowId, lines);
  }

  holdForBatch(cluster: string, model: string, until: number): Promise<void> {
    return holdForBatch(this.res, cluster, model, until);
  }

  modelOf(record: DeploymentRecord): ResolvedModel | undefined {
    return this.res.catalog.ofRow(record.modelId)?.config;
  }

  inflightOf(deploymentId: string): number {
    return this.res.inFlight.of(deploymentId);
  }

  /** Milliseconds since the epoch, from the scheduler's clock (the views' walltimes and start estimates). */
  now(): number {
    return this.res.now();
  }

  /** Live replicas this process would send requests to now (live and in its rotation). */
  routableReplicas(): number {
    return this.res.snapshot.all().filter((d) => d.state === "live" && this.res.faults.inRotation(d.id)).length;
  }

  /** Every deployment known now, for the jobs view. */
  deployments(): DeploymentRecord[] {
    return this.res.snapshot.all();
  }

  /** A model's deployments known now (its replicas, and recent failures), for the views. */
  deploymentsOf(cluster: string, model: string): DeploymentRecord[] {
    const entry = this.res.catalog.entry(cluster, model);
    return entry ? this.res.snapshot.ofModel(entry.rowId) : [];
  }

  /** A deployment's state history, oldest first. */
  history(deploymentIds: string[]) {
    return this.res.store.transitions(deploymentIds);
  }

  /** Listen to state changes of this process's decisions (returns the unsubscribe function). */
  subscribe(listener: (event: DeploymentEvent) => void): () => void {
    return this.res.events.subscribe(listener);
  }

  // ---- operator actions (operator.ts) ---------------------------------------------------

  drain(deploymentId: string, cause: string): Promise<void> {
    return operator.drain(this.res, deploymentId, cause);
  }

  /** Start a model now (as a request would): its state, queue position and ETA. */
  startModel(cluster: string, model: string): Promise<Availability> {
    return this.ensureLive(cluster, model);
  }

  stopModel(cluster: string, model: string, cause = "stopped by an operator"): Promise<boolean> {
    return operator.stopModel(this.res, cluster, model, cause);
  }

  restartModel(cluster: string, model: string, cause = "restarted by an operator"): Promise<Availability> {
    return operator.restartModel(this.res, () => this.tick(), cluster, model, cause);
  }

  setPinned(cluster: string, model: string, pinned: boolean): Promise<void> {
    return operator.setPinned(this.res, cluster, model, pinned);
  }

  isPinned(cluster: string, model: string): boolean {
    return operator.isPinned(this.res, cluster, model);
  }

  /** Replicas kept running whatever the demand (0 for an unpinned hot model under `adaptive`). */
  keptReplicas(cluster: string, model: string): number {
    return operator.keptReplicas(this.res, cluster, model);
  }

  setMaintenance(cluster: string, reason: string | null): Promise<void> {
    return operator.setMaintenance(this.res, cluster, reason);
  }

  // ---- the reconcile loop (reconcile/) --------------------------------------------------

  /** Ask for a pass soon (after a request for a cold model, a process exit). */
  wake(): void {
    this.loop.wake();
  }

  /** One reconcile pass; concurrent calls coalesce into one more pass. */
  tick(): Promise<void> {
    return this.loop.tick();
  }

  /** Re-read deployments and operator state from the database (what every pass starts with). */
  reload(): Promise<void> {
    return refresh(this.res);
  }

  private async pass(): Promise<void> {
    if (this.leadership.due()) await this.tryLead();
    await refresh(this.res);
    if (this.loop.isClosed) return;
    // Demand only decides replicas: with no model allowed more than one, nobody reads it.
    if (this.scalable) {
      const { demandInterval } = this.res.config.scheduler.scaling;
      await this.res.demand.share(this.res.store, this.res.logger, this.res.now(), demandInterval * 1000);
    }
    // A follower probes the replicas its own requests took out of rotation, and nothing else.
    if (!this.leadership.isLeader) return checkHealth(this.res, new Date(this.res.now()), { leader: false });
    await this.leadership.followDemand();
    await reconcile(this.res, new Date(this.res.now()));
  }
}
