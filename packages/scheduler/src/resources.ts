import type { Clock, ResolvedModel, SwitchyardConfig } from "@switchyard/core";
import type { Database } from "@switchyard/db";
import { adapterFor, checkReady, type EngineAdapterOptions, type ReadyResult } from "@switchyard/engines";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { CatalogIndex } from "./catalog-index";
import { SchedulerEvents } from "./events";
import type { Launcher } from "./launcher";
import { SchedulerMetrics } from "./metrics";
import { DemandHistory, type PolicyContext, policyFor, type SchedulingPolicy } from "./policies";
import { Demand } from "./routing/demand";
import { ReplicaFaults } from "./routing/faults";
import { InFlight } from "./routing/in-flight";
import { Snapshot } from "./snapshot";
import { DeploymentStore } from "./store";

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
  /**
   * Try to lead (default). A process that never leads (a pure gateway, a batch worker) still
   * runs the loop as a follower: it re-reads the database's deployments (the snapshot it routes
   * by) and probes the replicas its own requests took out of rotation, but never launches or stops.
   */
  lead?: boolean;
  /** Where external model servers' API keys are read from (`apiKeyEnv`); default process.env. */
  env?: NodeJS.ProcessEnv;
  /**
   * A user's request started a cold model here (the deployment this process queued for it): the
   * server writes it to the audit log. Not a change event: those reach every dashboard, and who
   * asked is not theirs to see.
   */
  onColdStart?: (start: ColdStart) => void;
}

/** Who asked for a model that was not running, so that it started. */
export interface ColdStartRequester {
  userId: string;
  username: string;
  via: string;
}

export interface ColdStart {
  cluster: string;
  model: string;
  deploymentId: string;
  requestedBy: ColdStartRequester;
  at: Date;
}

/** Asks a model server whether it is ready (readiness while starting, health once live). */
export type Probe = (
  baseUrl: string,
  model: ResolvedModel,
  headers: Record<string, string> | undefined,
) => Promise<ReadyResult>;

/** What this process remembers between passes (lost with it; the next leader starts afresh). */
export interface PassMemory {
  /** When each deployment started (or was adopted) by this process's clock: ETAs and start timeouts. */
  readonly startingSince: Map<string, number>;
  /** Failed health checks in a row, by live deployment. */
  readonly healthFailures: Map<string, number>;
  readonly lastHealthCheck: Map<string, number>;
  /** Deployments with a readiness or health check under way (never two at once). */
  readonly checking: Set<string>;
  /** Deployments whose server is being stopped (observe leaves them alone). */
  readonly stopping: Set<string>;
  /** Hot models that failed: how often, and not to start again before when. */
  readonly restartBackoff: Map<string, { failures: number; notBefore: number }>;
  /** Queued deployments waiting for the ones evicted for them to drain. */
  readonly evictingFor: Map<string, Set<string>>;
  /** Per model key: since when demand has called for more (`upSince`) or fewer (`downSince`) replicas. */
  readonly scaling: Map<string, { upSince?: number; downSince?: number }>;
}

/**
 * Everything the scheduler's parts share: the injected dependencies, the store, the catalog
 * index, the snapshot, the in-flight counts, events, metrics and the pass memory. Each part
 * (routing, leadership, a reconcile step, the operator actions) is a function of this object
 * and the time, so it can be read, and tested, alone.
 */
export interface SchedulerResources {
  readonly config: SwitchyardConfig;
  readonly logger: Logger;
  readonly launchers: Map<string, Launcher>;
  readonly engines: EngineAdapterOptions;
  readonly store: DeploymentStore;
  readonly catalog: CatalogIndex;
  readonly snapshot: Snapshot;
  readonly inFlight: InFlight;
  /** This process's demand per model (in flight and waiting), shared with the leader through the database. */
  readonly demand: Demand;
  /** Replicas whose requests time out or find no server, and those out of rotation for it. */
  readonly faults: ReplicaFaults;
  readonly events: SchedulerEvents;
  readonly metrics: SchedulerMetrics;
  readonly memory: PassMemory;
  /** How dynamic models are kept, evicted and started ahead of demand (`scheduler.policy`). */
  readonly policy: SchedulingPolicy;
  /** The requests per model a policy may read: this process's, and while leading every instance's from the usage records (demand-feed.ts). */
  readonly history: DemandHistory;
  /** Enqueues under way, by model key: concurrent requests for a cold model share one. */
  readonly coldStarts: Map<string, Promise<void>>;
  readonly probe: Probe;
  /** See `SchedulerDeps.onColdStart`. */
  readonly onColdStart: ((start: ColdStart) => void) | undefined;
  /** Milliseconds since the epoch, from the injected clock (never `Date.now()`). */
  now(): number;
  /** Ask for a reconcile pass soon. */
  wake(): void;
}

export function createResources(deps: SchedulerDeps, options: { wake: () => void; probe?: Probe }): SchedulerResources {
  const { clock, engines } = deps;
  const inFlight = new InFlight();
  return {
    config: deps.config,
    logger: deps.logger,
    launchers: deps.launchers,
    engines,
    store: new DeploymentStore(deps.db),
    catalog: new CatalogIndex(deps.config, deps.env),
    snapshot: new Snapshot(),
    inFlight,
    demand: new Demand(inFlight),
    faults: new ReplicaFaults(),
    events: new SchedulerEvents(deps.logger),
    metrics: new SchedulerMetrics(deps.registry),
    memory: {
      startingSince: new Map(),
      healthFailures: new Map(),
      lastHealthCheck: new Map(),
      checking: new Set(),
      stopping: new Set(),
      restartBackoff: new Map(),
      evictingFor: new Map(),
      scaling: new Map(),
    },
    policy: policyFor(deps.config.scheduler.policy),
    history: new DemandHistory(),
    coldStarts: new Map(),
    probe:
      options.probe ??
      ((baseUrl, model, headers) =>
        checkReady(baseUrl, adapterFor(model, engines).readiness(model), { timeoutMs: 2000, headers })),
    onColdStart: deps.onColdStart,
    now: () => clock.now(),
    wake: options.wake,
  };
}

/** What the policy reads at `now`. */
export function policyContext(res: SchedulerResources, now: number): PolicyContext {
  return { now, demand: res.history };
}

/** Re-read deployments and operator flags from the database (what every pass starts with). */
export async function refresh(res: SchedulerResources): Promise<void> {
  const { records, serverKeys } = await res.store.active(new Date(res.now() - 3_600_000));
  res.snapshot.replace(records, serverKeys);
  const readFrom = res.snapshot.flagsVersion;
  res.snapshot.replaceFlags(await res.store.operatorFlags(), readFrom);
}
