import type { ClusterConfig, ResolvedModel, SwitchyardConfig, TraceRequest } from "@switchyard/core";
import { modelKey } from "../catalog-index";
import { type Occupant, placeAndHold, placeModel } from "../placement";
import { DemandHistory } from "../policies/demand-history";
import type { PolicyContext, PrewarmCandidate, SchedulingPolicy } from "../policies/types";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface ReplayOptions {
  /** Replay on this cluster (default: the config's default cluster, else its first active one). */
  cluster?: string;
  /** Requests before `start + warmupMs` teach the policy but are not counted (default 0). */
  warmupMs?: number;
  /** The window measured (default: whole hours around the trace's first and last request). */
  start?: number;
  end?: number;
  /** A live model with no request for this long counts as idle (default 15 min). */
  idleAfterMs?: number;
  /** How often a reconcile pass runs besides after every event (default 30 s). */
  passIntervalMs?: number;
}

/** What one policy did with one trace. Waits are in seconds, figures per measured day where named so. */
export interface ReplayResult {
  policy: string;
  cluster: string;
  days: number;
  /** Interactive requests counted, and the share that found their model live. */
  requests: number;
  foundLive: number;
  /** Interactive requests that waited for their model to start (queue and load). */
  waited: number;
  waitedShare: number;
  meanWaitSeconds: number;
  p95WaitSeconds: number;
  maxWaitSeconds: number;
  /** Batch lines counted, and the share that waited for a start. */
  batchLines: number;
  batchWaitedShare: number;
  /** Dynamic model starts (after a request or ahead of demand) per day. */
  loadsPerDay: number;
  prewarmsPerDay: number;
  evictionsPerDay: number;
  /** Dynamic deployments stopped (evicted, idle, lifetime) whose model was asked for again within an hour. */
  stopsNeededWithinHour: number;
  evictionsNeededWithinHour: number;
  /** GPU-hours held by deployments starting, live or draining (all models, and dynamic only). */
  gpuHoursHeld: number;
  dynamicGpuHoursHeld: number;
  /** GPU-hours of live deployments with nothing in flight and no request for `idleAfter`. */
  gpuHoursIdle: number;
  dynamicGpuHoursIdle: number;
  /** Trace lines for models this cluster does not serve (left out). */
  unknownModels: number;
  /** Interactive requests that waited, by model (most first). */
  waitedByModel: Record<string, number>;
}

type SimState = "queued" | "starting" | "live" | "draining" | "offline";

interface SimDeployment {
  id: string;
  key: string;
  model: ResolvedModel;
  state: SimState;
  node?: string;
  hot: boolean;
  prewarmed: boolean;
  queuedAt: number;
  liveAt: number;
  lastUsed: number;
  drainingAt: number;
  inFlight: number;
  drainKind?: "evicted" | "drained";
  waiters: { model: string; at: number; durationMs: number; counted: boolean; kind: TraceRequest["kind"] }[];
}

interface SimEvent {
  t: number;
  seq: number;
  kind: "ready" | "done" | "pass";
  dep?: SimDeployment;
}

/** A binary min-heap of events by time (then insertion order). */
class EventQueue {
  private readonly items: SimEvent[] = [];
  private seq = 0;
  get size(): number {
    return this.items.length;
  }
  peek(): SimEvent | undefined {
    return this.items[0];
  }
  push(event: Omit<SimEvent, "seq">): void {
    const item = { ...event, seq: this.seq++ };
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(a[i] as SimEvent, a[p] as SimEvent)) break;
      [a[i], a[p]] = [a[p] as SimEvent, a[i] as SimEvent];
      i = p;
    }
  }
  pop(): SimEvent | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && less(a[l] as SimEvent, a[m] as SimEvent)) m = l;
        if (r < a.length && less(a[r] as SimEvent, a[m] as SimEvent)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m] as SimEvent, a[i] as SimEvent];
        i = m;
      }
    }
    return top;
  }
}

function less(a: SimEvent, b: SimEvent): boolean {
  return a.t < b.t || (a.t === b.t && a.seq < b.seq);
}

/** How long a request keeps its model busy once it reaches a live server (ms). */
export function serviceMs(request: TraceRequest): number {
  return request.durationMs ?? Math.round(500 + request.completionTokens * 25 + request.promptTokens * 0.2);
}

export function replayCluster(config: SwitchyardConfig, name?: string): ClusterConfig {
  const active = config.clusters.filter((c) => c.status === "active" && c.nodes.length > 0);
  const cluster = name
    ? config.clusters.find((c) => c.name === name)
    : (active.find((c) => c.name === config.defaultCluster) ?? active[0]);
  if (!cluster)
    throw new Error(name ? `no cluster '${name}' in the config` : "the config has no active cluster with nodes");
  if (cluster.nodes.length === 0) throw new Error(`cluster '${cluster.name}' has no nodes`);
  return cluster;
}

/**
 * Replays a trace through a policy on a simulated clock. Shared with the real scheduler: the
 * policy (drain, eviction, prewarm), placement (`placeModel`, the policies' eviction plans),
 * the demand history the policy reads, and the order of a reconcile pass (lifetimes, draining,
 * hot models, prewarm, the queue in arrival order, an evicting model waiting for its victims to
 * stop). Modelled: the launcher (a start takes the model's `expectedLoadTime`, stops are
 * instant), hot models live from the start and never failing (under a policy that pools the
 * nodes they may be evicted and started again like the others), requests' service times (from
 * the trace, else from their tokens), one replica per model, and no health checks or faults.
 */
export function replay(
  config: SwitchyardConfig,
  trace: readonly TraceRequest[],
  policy: SchedulingPolicy,
  options: ReplayOptions = {},
): ReplayResult {
  const cluster = replayCluster(config, options.cluster);
  const models = new Map(config.models.filter((m) => m.cluster === cluster.name).map((m) => [m.id, m]));
  // Requests may name a model by an alias.
  const byName = new Map(models);
  for (const m of models.values()) for (const alias of m.aliases) if (!byName.has(alias)) byName.set(alias, m);
  const busyWindow = config.scheduler.busyWindow * 1000;
  const drainTimeout = config.scheduler.drainTimeout * 1000;
  const idleAfter = options.idleAfterMs ?? 15 * 60_000;
  const passInterval = options.passIntervalMs ?? 30_000;
  const requests = trace
    .filter((r) => (r.cluster ?? cluster.name) === cluster.name)
    .map((r) => ({ r, t: Date.parse(r.at) }))
    .sort((a, b) => a.t - b.t);
  const unknownModels = requests.filter(({ r }) => !byName.has(r.model)).length;
  const known = requests.filter(({ r }) => byName.has(r.model));
  const first = known[0]?.t ?? 0;
  const last = known[known.length - 1]?.t ?? first;
  const start = options.start ?? Math.floor(first / HOUR) * HOUR;
  const end = Math.max(options.end ?? Math.ceil((last + 1) / HOUR) * HOUR, start + HOUR);
  const measureFrom = start + (options.warmupMs ?? 0);
  const days = (end - measureFrom) / DAY;

  const pooled = policy.poolsNodes === true;
  const history = new DemandHistory();
  const ctx = (now: number): PolicyContext => ({ now, demand: history });
  const deployments: SimDeployment[] = [];
  const current = new Map<string, SimDeployment>();
  const events = new EventQueue();
  const evictingFor = new Map<SimDeployment, Set<SimDeployment>>();
  const waits: number[] = [];
  const waitedBy = new Map<string, number>();
  let counted = 0;
  let batchLines = 0;
  let batchWaited = 0;
  let loads = 0;
  let prewarms = 0;
  let evictions = 0;
  const stops: { t: number; key: string; evicted: boolean }[] = [];
  const gpu = { held: 0, dynHeld: 0, idle: 0, dynIdle: 0 };
  let nextId = 0;

  const newDeployment = (model: ResolvedModel, now: number, hot: boolean, prewarmed = false): SimDeployment => {
    const d: SimDeployment = {
      id: `sim-${nextId++}`,
      key: modelKey(cluster.name, model.id),
      model,
      state: "queued",
      hot,
      prewarmed,
      queuedAt: now,
      liveAt: 0,
      lastUsed: now,
      drainingAt: 0,
      inFlight: 0,
      waiters: [],
    };
    deployments.push(d);
    current.set(d.key, d);
    return d;
  };

  const occupantsAt = (now: number): Occupant[] =>
    deployments
      .filter((d) => d.node && d.state !== "offline" && d.state !== "queued")
      .map((d) => ({
        deploymentId: d.id,
        node: d.node as string,
        gpus: d.model.gpus,
        evictable:
          d.state === "live" &&
          (d.model.placement === "dynamic" || pooled) &&
          d.inFlight === 0 &&
          now - d.lastUsed >= busyWindow,
        lastUsed: d.lastUsed,
        modelKey: d.key,
        loadSeconds: d.model.expectedLoadTime,
        ...(d.hot ? { hot: true } : {}),
      }));
  const byId = (id: string) => deployments.find((d) => d.id === id);

  // Hot models are live on their nodes before the trace starts.
  for (const model of models.values()) {
    if (model.placement !== "hot") continue;
    const node = placeModel(model, cluster.nodes, occupantsAt(start));
    if (!node) continue;
    const d = newDeployment(model, start, true);
    Object.assign(d, { state: "live", node: node.name, liveAt: start, lastUsed: start });
  }

  const serve = (d: SimDeployment, now: number, durationMs: number) => {
    d.inFlight++;
    d.lastUsed = now;
    events.push({ t: now + durationMs, kind: "done", dep: d });
  };

  const stop = (d: SimDeployment, now: number) => {
    d.state = "offline";
    if (current.get(d.key) === d) current.delete(d.key);
    if (d.drainKind) stops.push({ t: now, key: d.key, evicted: d.drainKind === "evicted" });
  };

  const pass = (now: number) => {
    // Lifetimes: the policy decides when a live dynamic model drains.
    for (const d of deployments) {
      if (d.state !== "live" || d.hot) continue;
      const reason = policy.drainReason(
        { key: d.key, model: d.model, liveAt: d.liveAt, lastUsed: d.lastUsed, inFlight: d.inFlight },
        ctx(now),
      );
      if (reason) {
        d.state = "draining";
        d.drainingAt = now;
        d.drainKind = "drained";
        current.delete(d.key);
      }
    }
    // Draining ones with nothing in flight (or past the drain timeout) stop.
    for (const d of deployments)
      if (d.state === "draining" && (d.inFlight === 0 || now - d.drainingAt > drainTimeout)) stop(d, now);
    // Ahead of demand, where GPUs are free and nobody waits for room.
    const queued = () => deployments.filter((d) => d.state === "queued");
    if (policy.prewarm && queued().length === 0) {
      const candidates: PrewarmCandidate[] = [...models.values()]
        .filter((m) => (m.placement === "dynamic" || pooled) && !current.has(modelKey(cluster.name, m.id)))
        .map((m) => ({ key: modelKey(cluster.name, m.id), model: m }));
      const here = occupantsAt(now);
      for (const pick of policy.prewarm(candidates, ctx(now))) {
        if (!placeAndHold(pick.model, cluster.nodes, here, pooled, `planned-${pick.key}`, now)) continue;
        newDeployment(pick.model, now, pick.model.placement === "hot", true);
      }
    }
    // The queue, in arrival order: place, or evict what the policy chooses, or wait.
    for (const d of queued()) {
      const here = occupantsAt(now);
      const node = placeModel(d.model, cluster.nodes, here, pooled);
      if (node) {
        evictingFor.delete(d);
        d.state = "starting";
        d.node = node.name;
        if (d.queuedAt >= measureFrom) {
          loads++;
          if (d.prewarmed) prewarms++;
        }
        events.push({ t: now + d.model.expectedLoadTime * 1000, kind: "ready", dep: d });
        continue;
      }
      const pending = evictingFor.get(d);
      if (pending && [...pending].some((v) => v.state === "draining")) continue;
      const plan = policy.planEviction(d.model, cluster.nodes, here, ctx(now), { key: d.key, since: d.queuedAt });
      if (!plan) continue;
      const victims = new Set<SimDeployment>();
      for (const v of plan.evict) {
        const victim = byId(v.deploymentId);
        if (victim?.state !== "live") continue;
        victim.state = "draining";
        victim.drainingAt = now;
        victim.drainKind = "evicted";
        current.delete(victim.key);
        victims.add(victim);
        if (now >= measureFrom) evictions++;
      }
      evictingFor.set(d, victims);
    }
  };

  /** Count GPU time between `from` and `to` (inside the measured window). */
  const account = (from: number, to: number) => {
    const a = Math.max(from, measureFrom);
    const b = Math.min(to, end);
    if (b <= a) return;
    for (const d of deployments) {
      if (d.state !== "starting" && d.state !== "live" && d.state !== "draining") continue;
      const held = ((b - a) / HOUR) * d.model.gpus;
      gpu.held += held;
      if (!d.hot) gpu.dynHeld += held;
      if (d.state === "live" && d.inFlight === 0) {
        const idleFrom = Math.max(a, d.lastUsed + idleAfter);
        if (b > idleFrom) {
          const idle = ((b - idleFrom) / HOUR) * d.model.gpus;
          gpu.idle += idle;
          if (!d.hot) gpu.dynIdle += idle;
        }
      }
    }
  };

  let now = start;
  let next = 0;
  let nextPass = start;
  const advance = (to: number) => {
    account(now, to);
    now = to;
  };
  for (;;) {
    const arrival = known[next];
    const event = events.peek();
    const waiting = deployments.some((d) => d.waiters.length > 0);
    if (!arrival && !waiting && now >= end) break;
    const candidates = [arrival?.t ?? Number.POSITIVE_INFINITY, event?.t ?? Number.POSITIVE_INFINITY, nextPass];
    const t = Math.min(...candidates);
    if (t === Number.POSITIVE_INFINITY) break;
    advance(t);
    if (arrival && arrival.t === t) {
      next++;
      const { r } = arrival;
      const model = byName.get(r.model) as ResolvedModel;
      const key = modelKey(cluster.name, model.id);
      history.record(key, t);
      const measured = t >= measureFrom && t < end;
      if (measured) {
        if (r.kind === "batch") batchLines++;
        else counted++;
      }
      let d = current.get(key);
      if (d?.state === "live") {
        serve(d, t, serviceMs(r));
        if (measured && r.kind === "interactive") waits.push(0);
      } else {
        d ??= newDeployment(model, t, model.placement === "hot");
        d.prewarmed = false;
        d.waiters.push({ model: model.id, at: t, durationMs: serviceMs(r), counted: measured, kind: r.kind });
        pass(t);
      }
      continue;
    }
    if (event && event.t === t) {
      events.pop();
      const d = event.dep as SimDeployment;
      if (event.kind === "ready" && d.state === "starting") {
        d.state = "live";
        d.liveAt = t;
        d.lastUsed = t;
        for (const w of d.waiters) {
          serve(d, t, w.durationMs);
          if (!w.counted) continue;
          if (w.kind === "batch") batchWaited++;
          else {
            waits.push(t - w.at);
            if (t > w.at) waitedBy.set(w.model, (waitedBy.get(w.model) ?? 0) + 1);
          }
        }
        d.waiters = [];
      } else if (event.kind === "done") {
        d.inFlight--;
      }
      pass(t);
      continue;
    }
    nextPass = t + passInterval;
    pass(t);
  }

  // Requests that arrived while a model was still queued at the end wait until it would be live.
  const waited = waits.filter((w) => w > 0).sort((a, b) => a - b);
  const neededWithin = (s: { t: number; key: string }) =>
    known.some(
      ({ r, t }) =>
        t > s.t && t <= s.t + HOUR && modelKey(cluster.name, (byName.get(r.model) as ResolvedModel).id) === s.key,
    );
  const measuredStops = stops.filter((s) => s.t >= measureFrom && s.t < end);
  const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
  const sec = (ms: number) => round(ms / 1000, 0);
  return {
    policy: policy.name,
    cluster: cluster.name,
    days: round(days, 2),
    requests: counted,
    foundLive: round(counted ? (counted - waited.length) / counted : 1, 3),
    waited: waited.length,
    waitedShare: round(counted ? waited.length / counted : 0, 3),
    meanWaitSeconds: sec(waited.length ? waited.reduce((a, b) => a + b, 0) / waited.length : 0),
    p95WaitSeconds: sec(percentile(waited, 0.95)),
    maxWaitSeconds: sec(waited[waited.length - 1] ?? 0),
    batchLines,
    batchWaitedShare: round(batchLines ? batchWaited / batchLines : 0, 3),
    loadsPerDay: round(loads / days),
    prewarmsPerDay: round(prewarms / days),
    evictionsPerDay: round(evictions / days),
    stopsNeededWithinHour: measuredStops.filter(neededWithin).length,
    evictionsNeededWithinHour: measuredStops.filter((s) => s.evicted).filter(neededWithin).length,
    gpuHoursHeld: round(gpu.held, 0),
    dynamicGpuHoursHeld: round(gpu.dynHeld, 0),
    gpuHoursIdle: round(gpu.idle, 0),
    dynamicGpuHoursIdle: round(gpu.dynIdle, 0),
    unknownModels,
    waitedByModel: Object.fromEntries([...waitedBy].sort((a, b) => b[1] - a[1])),
  };
}

/** The value below which `q` of the sorted values lie (nearest rank). */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
}
