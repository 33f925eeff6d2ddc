import { randomBytes } from "node:crypto";
import {
  CURRENT_DEPLOYMENT_STATES,
  canTransition,
  type DeploymentState,
  UNFINISHED_DEPLOYMENT_STATES,
} from "@switchyard/core";
import type { Database, Prisma, PrismaClient } from "@switchyard/db";

/** A deployment as the scheduler keeps it in memory (a copy of its row). */
export interface DeploymentRecord {
  id: string;
  modelId: string;
  cluster: string;
  nodeName: string | null;
  state: DeploymentState;
  stateReason: string | null;
  launcher: string;
  jobId: string | null;
  host: string | null;
  port: number | null;
  gpus: number;
  /** The replica slot (0 for a model's first); one current deployment per model and slot. */
  replica: number;
  version: number;
  restartCount: number;
  busyUntil: Date | null;
  logPath: string | null;
  queuedAt: Date | null;
  /** Queued with a submitted job: when the launcher's queue expects it to start (Slurm), if it says. */
  estimatedStartAt: Date | null;
  startedAt: Date | null;
  liveAt: Date | null;
  drainingAt: Date | null;
  lastRequestAt: Date | null;
  createdAt: Date;
}

const SELECT = {
  id: true,
  modelId: true,
  clusterName: true,
  state: true,
  stateReason: true,
  launcher: true,
  jobId: true,
  host: true,
  port: true,
  gpus: true,
  replica: true,
  version: true,
  restartCount: true,
  busyUntil: true,
  logPath: true,
  queuedAt: true,
  estimatedStartAt: true,
  startedAt: true,
  liveAt: true,
  drainingAt: true,
  lastRequestAt: true,
  createdAt: true,
  node: { select: { name: true } },
} as const;

const ACTIVE = `SELECT d."id", d."modelId"::text AS "modelId", d."clusterName" AS "cluster", n."name" AS "nodeName",
  d."state"::text AS "state", d."stateReason", d."launcher", d."jobId", d."host", d."port", d."gpus", d."replica", d."version",
  d."restartCount", d."busyUntil", d."logPath", d."queuedAt", d."estimatedStartAt", d."startedAt", d."liveAt", d."drainingAt",
  d."lastRequestAt", d."createdAt", d."serverKey"
FROM "deployments" d LEFT JOIN "nodes" n ON n."id" = d."nodeId"
WHERE d."state" IN (${UNFINISHED_DEPLOYMENT_STATES.map((state) => `'${state}'`).join(", ")})
  OR (d."state" = 'failed' AND d."updatedAt" >= $1)
ORDER BY d."createdAt" ASC`;

/** Pinned models and clusters in maintenance, in one read (it runs on every reconcile pass). */
const OPERATOR_FLAGS = `SELECT 'pinned' AS "kind", "id"::text AS "key", NULL AS "reason" FROM "models" WHERE "pinned"
UNION ALL SELECT 'maintenance', "name", "maintenanceReason" FROM "clusters" WHERE "maintenanceSince" IS NOT NULL`;

/** What operators set that the scheduler obeys: pinned models (row ids), clusters in maintenance (with the reason). */
export interface OperatorFlags {
  pinned: Set<string>;
  maintenance: Map<string, string>;
}

type Row = Prisma.DeploymentGetPayload<{ select: typeof SELECT }>;

function toRecord(row: Row): DeploymentRecord {
  const { clusterName, node, ...rest } = row;
  return { ...rest, cluster: clusterName, nodeName: node?.name ?? null };
}

/** A new model server key: 256 random bits, recognisable by its prefix in a leak scan. */
export function newServerKey(): string {
  return `sy-server-${randomBytes(32).toString("base64url")}`;
}

export class TransitionConflict extends Error {
  constructor(id: string) {
    super(`deployment ${id} changed meanwhile`);
    this.name = "TransitionConflict";
  }
}

/**
 * The scheduler's only way to the database: every state change of a deployment is a
 * compare-and-set plus a history row; it also reads the catalog rows and writes the operator
 * flags (pins, maintenance).
 */
export class DeploymentStore {
  private nodeIds = new Map<string, string>(); // cluster/node -> node row id

  private readonly db: PrismaClient;

  constructor(private readonly database: Database) {
    this.db = database.prisma;
  }

  async init(): Promise<void> {
    const nodes = await this.db.node.findMany({ select: { id: true, name: true, clusterName: true } });
    this.nodeIds = new Map(nodes.map((n) => [`${n.clusterName}/${n.name}`, n.id]));
  }

  /**
   * Deployments that hold or want resources, plus failures of the last hour (for reasons and
   * views), and their servers' keys by deployment id: kept apart from the records, so a record
   * that reaches a view or a log line never carries a key.
   */
  async active(since: Date): Promise<{ records: DeploymentRecord[]; serverKeys: Map<string, string> }> {
    // Raw SQL: this runs on every reconcile pass (four times a second by default), where
    // Prisma's per-query compile cost showed up as stalls in the gateway's tail latency.
    const rows = await this.database.query<DeploymentRecord & { serverKey: string | null } & Record<string, unknown>>(
      ACTIVE,
      [since],
    );
    const serverKeys = new Map<string, string>();
    const records = rows.map(({ serverKey, ...record }) => {
      if (serverKey) serverKeys.set(record.id, serverKey);
      return record;
    });
    return { records, serverKeys };
  }

  /** The catalog's model rows (their ids key deployments), for the models in the catalog now. */
  catalogRows(): Promise<{ id: string; name: string; clusterName: string }[]> {
    return this.db.model.findMany({
      where: { inCatalog: true },
      select: { id: true, name: true, clusterName: true },
    });
  }

  async operatorFlags(): Promise<OperatorFlags> {
    // Raw SQL for the same reason as `active()`.
    const flags = await this.database.query<{ kind: string; key: string; reason: string | null }>(OPERATOR_FLAGS, []);
    return {
      pinned: new Set(flags.filter((f) => f.kind === "pinned").map((f) => f.key)),
      maintenance: new Map(flags.filter((f) => f.kind === "maintenance").map((f) => [f.key, f.reason ?? ""])),
    };
  }

  async setPinned(modelId: string, pinned: boolean): Promise<void> {
    await this.db.model.update({ where: { id: modelId }, data: { pinned } });
  }

  /** Start (with a reason, possibly empty) or end (null) an operator's maintenance window. */
  async setMaintenance(cluster: string, reason: string | null, now: Date): Promise<void> {
    await this.db.cluster.update({
      where: { name: cluster },
      data:
        reason === null
          ? { maintenanceSince: null, maintenanceReason: null }
          : { maintenanceSince: now, maintenanceReason: reason },
    });
  }

  async get(id: string): Promise<DeploymentRecord | undefined> {
    const row = await this.db.deployment.findUnique({ where: { id }, select: SELECT });
    return row ? toRecord(row) : undefined;
  }

  /**
   * A new queued deployment for a model's replica slot, unless that slot already has one queued,
   * starting or live (the partial unique index decides, across processes): then that one is
   * returned.
   */
  async enqueue(input: {
    modelId: string;
    /** The replica slot (default 0, a model's first). */
    replica?: number;
    cluster: string;
    launcher: string;
    gpus: number;
    /** The key its server will require (null for an external server, which has its own). */
    serverKey: string | null;
    cause: string;
    now: Date;
  }): Promise<{
    record: DeploymentRecord;
    created: boolean;
  }> {
    const id = `dep_${randomBytes(8).toString("hex")}`;
    try {
      await this.db.$transaction([
        this.db.deployment.create({
          data: {
            id,
            modelId: input.modelId,
            clusterName: input.cluster,
            state: "queued",
            launcher: input.launcher,
            gpus: input.gpus,
            replica: input.replica ?? 0,
            serverKey: input.serverKey,
            queuedAt: input.now,
            createdAt: input.now,
          },
        }),
        this.db.deploymentTransition.create({
          data: { deploymentId: id, fromState: "offline", toState: "queued", cause: input.cause, at: input.now },
        }),
      ]);
      return { record: (await this.get(id)) as DeploymentRecord, created: true };
    } catch (error) {
      const existing = await this.db.deployment.findFirst({
        where: {
          modelId: input.modelId,
          replica: input.replica ?? 0,
          state: { in: [...CURRENT_DEPLOYMENT_STATES] },
        },
        select: SELECT,
      });
      if (existing) return { record: toRecord(existing), created: false };
      throw error;
    }
  }

  /** Move a deployment to a new state if nobody else moved it first. */
  async transition(
    record: DeploymentRecord,
    to: DeploymentState,
    cause: string,
    now: Date,
    fields: Partial<{
      node: string | null;
      jobId: string | null;
      host: string | null;
      port: number | null;
      logPath: string | null;
      stateReason: string | null;
      restartCount: number;
    }> = {},
  ): Promise<DeploymentRecord> {
    if (!canTransition(record.state, to))
      throw new Error(`illegal transition ${record.state} -> ${to} for ${record.id}`);
    const stamps: Record<string, Date> = {};
    if (to === "starting" && !record.startedAt) stamps.startedAt = now;
    if (to === "live") stamps.liveAt = now;
    if (to === "draining") stamps.drainingAt = now;
    if (to === "offline" || to === "failed") stamps.stoppedAt = now;
    const { node, ...rest } = fields;
    const data: Prisma.DeploymentUncheckedUpdateManyInput = {
      state: to,
      version: { increment: 1 },
      stateReason:
        fields.stateReason === undefined ? (to === "failed" || to === "draining" ? cause : null) : fields.stateReason,
      ...rest,
      ...stamps,
    };
    if (node !== undefined)
      data.nodeId = node === null ? null : (this.nodeIds.get(`${record.cluster}/${node}`) ?? null);
    await this.db.$transaction(async (tx) => {
      const updated = await tx.deployment.updateMany({ where: { id: record.id, version: record.version }, data });
      if (updated.count !== 1) throw new TransitionConflict(record.id);
      await tx.deploymentTransition.create({
        data: { deploymentId: record.id, fromState: record.state, toState: to, cause, at: now },
      });
    });
    return (await this.get(record.id)) as DeploymentRecord;
  }

  /** Facts that are not a state change: a Slurm job's id and pending reason, the address it published. */
  async annotate(
    record: DeploymentRecord,
    fields: Partial<{
      stateReason: string | null;
      jobId: string;
      logPath: string;
      node: string;
      host: string | null;
      port: number | null;
      serverKey: string;
      estimatedStartAt: Date | null;
    }>,
  ): Promise<DeploymentRecord> {
    const { node, ...rest } = fields;
    const data: Prisma.DeploymentUncheckedUpdateManyInput = { ...rest, version: { increment: 1 } };
    if (node !== undefined) data.nodeId = this.nodeIds.get(`${record.cluster}/${node}`) ?? null;
    const updated = await this.db.deployment.updateMany({ where: { id: record.id, version: record.version }, data });
    if (updated.count !== 1) throw new TransitionConflict(record.id);
    return (await this.get(record.id)) as DeploymentRecord;
  }

  async recordUse(uses: Map<string, Date>, models: Map<string, Date>): Promise<void> {
    for (const [id, at] of uses) await this.db.deployment.updateMany({ where: { id }, data: { lastRequestAt: at } });
    for (const [id, at] of models) await this.db.model.updateMany({ where: { id }, data: { lastRequestAt: at } });
  }

  /** This instance's demand per model row id (rows it no longer has demand for are zeroed). */
  async writeDemand(instance: string, demand: Map<string, { inFlight: number; waiting: number }>, now: Date) {
    if (demand.size === 0) return;
    const entries = [...demand];
    await this.database.query(
      `INSERT INTO "model_demand" ("instance", "modelId", "inFlight", "waiting", "updatedAt")
       SELECT $1, m, f, w, $5 FROM unnest($2::uuid[], $3::int[], $4::int[]) AS t(m, f, w)
       ON CONFLICT ("instance", "modelId") DO UPDATE
       SET "inFlight" = EXCLUDED."inFlight", "waiting" = EXCLUDED."waiting", "updatedAt" = EXCLUDED."updatedAt"`,
      [
        instance,
        entries.map(([modelId]) => modelId),
        entries.map(([, d]) => d.inFlight),
        entries.map(([, d]) => d.waiting),
        now,
      ],
    );
  }

  /** Other instances' demand per model row id, from rows written since `since`. */
  async readDemand(exceptInstance: string, since: Date): Promise<Map<string, { inFlight: number; waiting: number }>> {
    const rows = await this.database.query<{ modelId: string; inFlight: number; waiting: number }>(
      `SELECT "modelId"::text AS "modelId", SUM("inFlight")::int AS "inFlight", SUM("waiting")::int AS "waiting"
       FROM "model_demand" WHERE "instance" <> $1 AND "updatedAt" >= $2 GROUP BY "modelId"`,
      [exceptInstance, since],
    );
    return new Map(rows.map((r) => [r.modelId, { inFlight: Number(r.inFlight), waiting: Number(r.waiting) }]));
  }

  /** Forget demand rows nobody has refreshed since `before` (instances that stopped). */
  async pruneDemand(before: Date): Promise<void> {
    await this.database.query(`DELETE FROM "model_demand" WHERE "updatedAt" < $1`, [before]);
  }

  async lease(id: string, until: Date): Promise<void> {
    await this.db.deployment.updateMany({ where: { id }, data: { busyUntil: until } });
  }

  async transitions(deploymentIds: string[]) {
    return this.db.deploymentTransition.findMany({
      where: { deploymentId: { in: deploymentIds } },
      orderBy: { id: "asc" },
    });
  }
}
