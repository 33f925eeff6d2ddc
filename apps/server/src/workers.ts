import cluster, { type Worker } from "node:cluster";
import { availableParallelism } from "node:os";
import type { GatewaySettings } from "@switchyard/core";
import { InvalidArgumentError } from "commander";
import type { Registry } from "prom-client";
import { CliError } from "./cli-io";
import type { Logger } from "./logger";
import type { InstanceRole } from "./roles";

/**
 * `serve --workers N`: N gateway processes (node:cluster workers) share the port; the primary
 * process forks them, restarts one that dies, and runs the scheduler and the batch worker (when
 * this instance has those roles) itself. The workers route like any gateway-only instance, by the
 * scheduler's state in the database, so N > 1 needs PostgreSQL. What they share without Redis
 * (rate limits, revocations, requests in flight) the primary keeps (see @switchyard/auth's
 * cluster.ts); `/metrics` on any worker answers the sum over the workers and the primary.
 */

const SHUTDOWN = "switchyard:shutdown";
const COLLECT = "switchyard:metrics:collect";
const REPORT = "switchyard:metrics:report";
const ASK = "switchyard:metrics:ask";
const ANSWER = "switchyard:metrics:answer";

/** How long a worker's metrics may take to reach a scrape (ms); a worker later than that is left out. */
const COLLECT_TIMEOUT_MS = 2000;

/** `--workers`: a positive integer, or `auto`. */
export function parseWorkers(value: string): number | "auto" {
  if (value === "auto") return "auto";
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 256)
    throw new InvalidArgumentError("must be 'auto' or an integer from 1 to 256");
  return n;
}

/**
 * How many gateway processes: the flag, else the config's `gateway.workers`; `auto` is one per
 * core when the gateway runs alone, 1 otherwise (the all-in-one keeps one process). More than
 * one needs PostgreSQL: embedded PGlite belongs to a single process.
 */
export function resolveWorkers(options: {
  requested: number | "auto";
  roles: readonly InstanceRole[] | undefined;
  databaseUrl: string | undefined;
}): number {
  const { requested, roles } = options;
  const gatewayAlone = roles !== undefined && roles.length === 1 && roles[0] === "gateway";
  // `auto` without PostgreSQL is 1: what else is missing for these roles is said by the start itself.
  const n = requested === "auto" ? (gatewayAlone && options.databaseUrl ? availableParallelism() : 1) : requested;
  if (n > 1 && !options.databaseUrl) {
    throw new CliError(
      `serve --workers ${n} needs PostgreSQL (set DATABASE_URL): the embedded database belongs to one process; run with --workers 1 or set DATABASE_URL`,
    );
  }
  return n;
}

/** Which worker this is (1..N), when it is one. */
export function workerIndex(env: NodeJS.ProcessEnv = process.env): number | undefined {
  if (!cluster.isWorker) return undefined;
  const index = Number(env.SWITCHYARD_GATEWAY_WORKER);
  return Number.isInteger(index) && index > 0 ? index : cluster.worker?.id;
}

interface Message {
  channel?: unknown;
  id?: number;
  metrics?: object[];
  text?: string;
  error?: string;
}

/**
 * In a worker: answer the primary's metric collections with this process's registry, and make
 * this registry's `metrics()` (what `/metrics` serves) the primary's sum over every process.
 */
export function joinPrimaryMetrics(registry: Registry): () => void {
  const own = registry.getMetricsAsJSON.bind(registry);
  let sequence = 0;
  const waiting = new Map<number, { resolve(text: string): void; reject(error: Error): void }>();
  const onMessage = (message: Message) => {
    if (message?.channel === COLLECT) {
      void own().then(
        (metrics) => process.send?.({ channel: REPORT, id: message.id, metrics }),
        () => process.send?.({ channel: REPORT, id: message.id, metrics: [] }),
      );
    } else if (message?.channel === ANSWER && message.id !== undefined) {
      const pending = waiting.get(message.id);
      waiting.delete(message.id);
      if (message.error !== undefined) pending?.reject(new Error(message.error));
      else pending?.resolve(message.text ?? "");
    }
  };
  process.on("message", onMessage);
  registry.metrics = () =>
    new Promise<string>((resolve, reject) => {
      const id = ++sequence;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error("the primary process did not answer for the metrics in time"));
      }, COLLECT_TIMEOUT_MS * 2);
      waiting.set(id, {
        resolve: (text) => {
          clearTimeout(timer);
          resolve(text);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      process.send?.({ channel: ASK, id });
    });
  return () => process.off("message", onMessage);
}

/** In the primary: every worker's metrics and the primary's own, summed (per each metric's aggregator). */
async function aggregate(own: Registry | undefined): Promise<string> {
  const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w?.isConnected());
  const reports = await Promise.all(
    workers.map(
      (worker) =>
        new Promise<object[] | undefined>((resolve) => {
          const id = ++collections;
          const timer = setTimeout(() => {
            worker.off("message", onMessage);
            resolve(undefined);
          }, COLLECT_TIMEOUT_MS);
          const onMessage = (message: Message) => {
            if (message?.channel !== REPORT || message.id !== id) return;
            clearTimeout(timer);
            worker.off("message", onMessage);
            resolve(message.metrics);
          };
          worker.on("message", onMessage);
          worker.send({ channel: COLLECT, id });
        }),
    ),
  );
  const all = reports.filter((r): r is object[] => r !== undefined);
  if (own) all.push(await own.getMetricsAsJSON());
  // Loaded here: only a primary aggregates (the CLI's other commands never need it).
  const { AggregatorRegistry } = await import("prom-client");
  return AggregatorRegistry.aggregate(all).metrics();
}
let collections = 0;

export interface PrimaryOptions {
  workers: number;
  logger: Logger;
  /** The primary's own metrics (its scheduler and batch worker), summed into every scrape. */
  registry?: Registry | undefined;
  /** The gateway's limits (`gateway.limits`), counted here for every worker (without Redis). */
  limits: GatewaySettings["limits"];
  /** Whether the workers share state through Redis instead. */
  redis: boolean;
  /** Extra environment for the workers. */
  env?: NodeJS.ProcessEnv;
}

export interface RunningPrimary {
  /** Where the workers listen (as the first one reported it). */
  address: { port: number; host: string };
  /** The workers' process ids now. */
  pids(): number[];
  /** Ask every worker to finish its requests and stop; resolves when all have exited. */
  close(): Promise<void>;
}

/** A worker that dies this soon after its start is restarted only after a pause (no crash loop at full speed). */
const EARLY_DEATH_MS = 10_000;
const RESTART_PAUSE_MS = 5_000;
/** How long the workers get to finish their requests and close after a shutdown (then killed). */
const STOP_GRACE_MS = 30_000;

/**
 * Fork the gateway workers (they re-run this command: `cluster.isWorker` sends them down the
 * worker path), the first one alone (it migrates nothing the primary has not, but creates the
 * first admin user on a new database: once, not N times at once), then the others. Resolves
 * when all listen; rejects if one exits before it listens.
 */
export async function startPrimary(options: PrimaryOptions): Promise<RunningPrimary> {
  const { logger } = options;
  if (!options.redis) {
    const { servePrimarySharedState } = await import("@switchyard/auth");
    const { serveClusterLimits } = await import("@switchyard/gateway");
    servePrimarySharedState();
    serveClusterLimits(options.limits);
  }
  let stopping = false;
  const started = new Map<number, number>();
  const slots = new Map<Worker, number>();
  let address: { port: number; host: string } | undefined;

  cluster.on("message", (worker, message: Message) => {
    if (message?.channel !== ASK) return;
    void aggregate(options.registry).then(
      (text) => worker.isConnected() && worker.send({ channel: ANSWER, id: message.id, text }),
      (error: Error) => worker.isConnected() && worker.send({ channel: ANSWER, id: message.id, error: error.message }),
    );
  });

  const fork = (index: number): Promise<Worker> => {
    const worker = cluster.fork({ ...options.env, SWITCHYARD_GATEWAY_WORKER: String(index) });
    slots.set(worker, index);
    started.set(worker.id, Date.now());
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null, signal: string | null) =>
        reject(
          new CliError(
            `gateway worker ${index} exited (${signal ?? `code ${code}`}) before it listened; its error is above`,
          ),
        );
      worker.once("exit", onExit);
      worker.once("listening", (where) => {
        worker.off("exit", onExit);
        address ??= { port: where.port, host: where.address ?? "127.0.0.1" };
        logger.info({ worker: index, pid: worker.process.pid }, "gateway worker listening");
        resolve(worker);
      });
    });
  };

  cluster.on("exit", (worker, code, signal) => {
    const index = slots.get(worker);
    slots.delete(worker);
    if (stopping || index === undefined || address === undefined) return;
    const lived = Date.now() - (started.get(worker.id) ?? 0);
    const pause = lived < EARLY_DEATH_MS ? RESTART_PAUSE_MS : 0;
    logger.error(
      { worker: index, pid: worker.process.pid, code, signal, restartInMs: pause },
      "gateway worker exited; starting a new one",
    );
    setTimeout(() => {
      if (stopping) return;
      fork(index).catch((error: Error) => logger.error({ worker: index, err: error }, "gateway worker restart failed"));
    }, pause).unref();
  });

  try {
    await fork(1);
    await Promise.all(Array.from({ length: options.workers - 1 }, (_, i) => fork(i + 2)));
  } catch (error) {
    stopping = true;
    await stopAll(slots, 5000);
    throw error;
  }

  let closing: Promise<void> | undefined;
  return {
    address: address ?? { port: 0, host: "127.0.0.1" },
    pids: () => [...slots.keys()].map((w) => w.process.pid ?? 0),
    close() {
      closing ??= (async () => {
        stopping = true;
        await stopAll(slots, STOP_GRACE_MS);
      })();
      return closing;
    },
  };
}

/** Tell every worker to stop (it finishes its requests first); kill those still running after `graceMs`. */
async function stopAll(slots: Map<Worker, number>, graceMs: number): Promise<void> {
  const workers = [...slots.keys()].filter((w) => !w.isDead());
  await Promise.all(
    workers.map(
      (worker) =>
        new Promise<void>((resolve) => {
          if (worker.isDead()) return resolve();
          const timer = setTimeout(() => worker.process.kill("SIGKILL"), graceMs);
          worker.once("exit", () => {
            clearTimeout(timer);
            resolve();
          });
          if (worker.isConnected()) worker.send({ channel: SHUTDOWN });
          else worker.process.kill("SIGTERM");
        }),
    ),
  );
}

/**
 * In a worker: start, then stop once on SIGINT/SIGTERM, on the primary's shutdown message, or
 * when the primary is gone (the handlers are in place before it starts, so a stop asked for while
 * it starts is kept); a second signal exits at once. Resolves once stopped.
 */
export async function runWorker<T extends { close(): Promise<void> }>(
  start: () => Promise<T>,
  onError: (error: Error) => void,
): Promise<void> {
  let running: T | undefined;
  let asked = false;
  let signals = 0;
  let stopped!: () => void;
  const done = new Promise<void>((resolve) => {
    stopped = resolve;
  });
  let closing = false;
  const stop = () => {
    asked = true;
    if (!running || closing) return;
    closing = true;
    void running.close().catch(onError).finally(stopped);
  };
  const onSignal = () => {
    if (++signals > 1) process.exit(1);
    stop();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("message", (message: Message) => {
    if (message?.channel === SHUTDOWN) stop();
  });
  process.on("disconnect", stop);
  running = await start();
  if (asked) stop();
  return done;
}
