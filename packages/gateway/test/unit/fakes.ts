import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Principal } from "@switchyard/auth";
import { type SwitchyardConfigInput, validateConfig } from "@switchyard/core";
import type { Availability, Replica } from "@switchyard/scheduler";
import { Upstreams } from "@switchyard/upstream";
import type { UsageRecord } from "@switchyard/usage";
import { pino } from "pino";
import { Registry } from "prom-client";
import { type GatewayDeps, GatewayMetrics, KINDS, ModelResolver, RateLimits, type ReplicaSource } from "../../src";
import { answerError, serveInference } from "../../src/handler";

/**
 * The request path on its own: `serveInference` with real limits, metrics, resolver and pools,
 * a fake scheduler handing out the replicas a test names, and a usage sink that keeps records.
 */

/**
 * Hands out the given base URLs in turn (replica i is deployment `replica-i`), counting each
 * in flight until its release, and keeps what the gateway reports of each: a failed replica
 * (`reportFailure`, unreachable) is handed out no more, as the scheduler's routing does, until `add` brings
 * a replica in. With none to hand out, the model is cold: queued second, about 40 s from ready
 * (or, with `deadStayLive`, still live as a standby scheduler reads it from the database before
 * the new leader has seen its server die).
 */
export class FakeReplicas implements ReplicaSource {
  /** Base URLs in the order they were handed out. */
  readonly acquired: string[] = [];
  /** What the gateway said of each replica, in order: `replica-1 unreachable`, `replica-2 answered`. */
  readonly reports: string[] = [];
  private readonly out = new Set<string>();
  private next = 0;
  private held = 0;
  /** With none to hand out: report the model live (its dead replicas not yet closed), not queued. */
  deadStayLive = false;

  constructor(private readonly baseUrls: string[]) {}

  /** Replicas handed out and not yet released. */
  get inFlight(): number {
    return this.held;
  }

  /** A replica goes live (a replacement for one that died, say). */
  add(baseUrl: string): void {
    this.baseUrls.push(baseUrl);
  }

  private usable(): string[] {
    return this.baseUrls.filter((url) => !this.out.has(url));
  }

  acquire(cluster: string, model: string): Replica | undefined {
    void cluster;
    void model;
    const usable = this.usable();
    if (usable.length === 0) return undefined;
    const baseUrl = usable[this.next++ % usable.length] as string;
    this.acquired.push(baseUrl);
    this.held++;
    let released = false;
    return {
      deploymentId: `replica-${this.baseUrls.indexOf(baseUrl) + 1}`,
      baseUrl,
      authorization: "Bearer replica-key",
      release: () => {
        if (released) return;
        released = true;
        this.held--;
      },
    };
  }

  reportFailure(deploymentId: string, kind: "timeout" | "unreachable"): void {
    this.reports.push(`${deploymentId} ${kind}`);
    // A dead server is out at once; the scheduler counts timeouts (not this fake).
    const url = this.baseUrls[Number(deploymentId.slice("replica-".length)) - 1];
    if (url && kind === "unreachable") this.out.add(url);
  }

  reportSuccess(deploymentId: string): void {
    this.reports.push(`${deploymentId} answered`);
  }

  /** Requests held as demand now (held cold requests count towards more replicas). */
  demandHeld = 0;

  holdDemand(): () => void {
    this.demandHeld++;
    let done = false;
    return () => {
      if (!done) this.demandHeld--;
      done = true;
    };
  }

  availability(cluster: string, model: string): Availability {
    const base = { cluster, model, deploymentId: "replica-1", reason: null };
    const usable = this.usable();
    if (usable.length === 0 && this.deadStayLive)
      return { ...base, status: "live", baseUrl: null, queuePosition: null, etaSeconds: null };
    return usable.length === 0
      ? { ...base, status: "queued", baseUrl: null, queuePosition: 2, etaSeconds: 39.5 }
      : { ...base, status: "live", baseUrl: usable[0] ?? null, queuePosition: null, etaSeconds: null };
  }

  async ensureLive(cluster: string, model: string): Promise<Availability> {
    return this.availability(cluster, model);
  }

  clusterProblem(): string | undefined {
    return undefined;
  }
}

export const PRINCIPAL: Principal = {
  userId: "00000000-0000-4000-8000-000000000001",
  username: "mallory",
  role: "user",
  groups: [],
  via: "api_key",
  scopes: "all",
  expiresAt: null,
};

export interface ProxyLab {
  /** The gateway's base URL (POST /v1/chat/completions). */
  url: string;
  replicas: FakeReplicas;
  deps: GatewayDeps;
  records: UsageRecord[];
  /** The user's requests in flight as the gateway's limits count them. */
  userInFlight(): number;
  close(): Promise<void>;
}

/** The gateway's request path on 127.0.0.1, proxying chat completions to `baseUrls` (in turn). */
export async function startProxyLab(
  baseUrls: string[],
  gateway: SwitchyardConfigInput["gateway"] = {},
): Promise<ProxyLab> {
  const result = validateConfig({
    gateway: { holdSeconds: 0, ...gateway },
    clusters: [{ name: "lab", nodes: [{ name: "n1", gpus: 1, role: "hot" }], frameworks: ["vllm"] }],
    models: [
      {
        id: "org/chat",
        cluster: "lab",
        framework: "vllm",
        capabilities: ["chat", "completions"],
        placement: "hot",
        node: "n1",
      },
    ],
  });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  const { config } = result;
  const replicas = new FakeReplicas(baseUrls);
  const records: UsageRecord[] = [];
  const logger = pino({ level: "silent" });
  const deps: GatewayDeps = {
    settings: config.gateway,
    scheduler: replicas,
    resolver: new ModelResolver(config, replicas),
    limits: new RateLimits(config.gateway.limits),
    usage: { record: (entry) => records.push(entry) },
    upstreams: new Upstreams({
      connections: 8,
      connectTimeoutMs: config.gateway.connectTimeout * 1000,
      timeoutMs: config.gateway.upstreamTimeout * 1000,
      pruneEveryMs: 0,
    }),
    metrics: new GatewayMetrics(new Registry()),
    engines: {},
    logger,
  };
  let requests = 0;
  const server: Server = createServer((req, res) => {
    const facts = { requestId: `req-${++requests}` };
    serveInference(req, res, KINDS.chat, undefined, PRINCIPAL, facts, deps).catch((error: unknown) => {
      answerError(res, error, facts, logger);
      req.resume();
    });
  });
  await listen(server);
  return {
    url: urlOf(server),
    replicas,
    deps,
    records,
    userInFlight: () => deps.limits.inFlightOf(PRINCIPAL.userId),
    async close() {
      await stop(server);
      deps.limits.close();
      await deps.upstreams.close();
    },
  };
}

export interface ModelServer {
  url: string;
  /** The JSON bodies it was sent, in order, with their headers. */
  seen: { body: Record<string, unknown>; headers: IncomingMessage["headers"] }[];
  close(): Promise<void>;
}

/** A model server stand-in on 127.0.0.1: `answer` runs once each request's body is in. */
export async function startModelServer(
  answer: (res: ServerResponse, body: Record<string, unknown>, req: IncomingMessage) => void,
): Promise<ModelServer> {
  const seen: ModelServer["seen"] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
      seen.push({ body, headers: req.headers });
      answer(res, body, req);
    });
  });
  await listen(server);
  return { url: urlOf(server), seen, close: () => stop(server) };
}

/** A base URL nothing listens on (a port that was just free). */
export async function deadReplica(): Promise<string> {
  const server = createServer();
  await listen(server);
  const url = urlOf(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return url;
}

/** Resolves once `check` holds (polled every 5 ms), or fails after `ms`. */
export async function until(check: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function listen(server: Server): Promise<void> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
}

function urlOf(server: Server): string {
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function stop(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}
