import type { TraceRequest } from "@switchyard/core";
import type { Database } from "@switchyard/db";

interface UsageRow extends Record<string, unknown> {
  at: Date;
  userId: string | null;
  apiKeyId: string | null;
  model: string;
  clusterName: string;
  route: string;
  promptTokens: number;
  completionTokens: number;
  latencyMs: number;
}

interface LiveRow extends Record<string, unknown> {
  cluster: string;
  model: string;
  deploymentId: string;
  toState: string;
  at: Date;
}

/** When a request arrived: its usage row is written when it finishes, `latencyMs` after. */
function arrivalOf(row: { at: Date; latencyMs: number }): number {
  return new Date(row.at).getTime() - Math.max(0, Number(row.latencyMs));
}

/**
 * The requests (model and arrival, as `exportTrace` reads them) whose usage rows were written
 * in [since, until), oldest arrival first: what a policy that learns demand is fed.
 */
export async function readArrivals(
  db: Database,
  since: Date,
  until: Date,
): Promise<{ at: number; cluster: string; model: string }[]> {
  const rows = await db.query<{ at: Date; latencyMs: number; model: string; clusterName: string }>(
    `SELECT "at", "latencyMs", "model", "clusterName" FROM "usage_records" WHERE "at" >= $1 AND "at" < $2`,
    [since, until],
  );
  return rows
    .map((row) => ({ at: arrivalOf(row), cluster: row.clusterName, model: row.model }))
    .sort((a, b) => a.at - b.at);
}

/** The route batch lines are accounted under. */
const BATCH_ROUTE = "/v1/batches";

/**
 * The demand the platform saw between `since` and `until`, one request per usage row (oldest
 * first): when it arrived (its finish time less its latency), the model, who (user id, else API
 * key id), interactive or batch, tokens, and whether it waited for its model to go live and how
 * long, from the deployments' transitions (a request that arrived while no deployment of its
 * model was live waited until the next one went live, at most its whole latency). No content.
 */
export async function exportTrace(db: Database, since: Date, until: Date): Promise<TraceRequest[]> {
  const usage = await db.query<UsageRow>(
    `SELECT "at", "userId"::text AS "userId", "apiKeyId", "model", "clusterName", "route",
            "promptTokens", "completionTokens", "latencyMs"
     FROM "usage_records" WHERE "at" >= $1 AND "at" < $2 ORDER BY "at"`,
    [since, until],
  );
  // Live intervals per model, from a day before the window (a model live since then counts).
  const transitions = await db.query<LiveRow>(
    `SELECT d."clusterName" AS "cluster", m."name" AS "model", t."deploymentId", t."toState"::text AS "toState", t."at"
     FROM "deployment_transitions" t
     JOIN "deployments" d ON d."id" = t."deploymentId"
     JOIN "models" m ON m."id" = d."modelId"
     WHERE t."at" >= $1 AND t."at" < $2 AND (t."toState" = 'live' OR t."fromState" = 'live')
     ORDER BY t."at"`,
    [new Date(since.getTime() - 86_400_000), until],
  );
  const intervals = new Map<string, { from: number; to: number }[]>();
  const open = new Map<string, { key: string; from: number }>();
  for (const row of transitions) {
    const key = `${row.cluster}/${row.model}`;
    const t = new Date(row.at).getTime();
    if (row.toState === "live") {
      open.set(row.deploymentId, { key, from: t });
      continue;
    }
    const started = open.get(row.deploymentId);
    if (!started) continue;
    open.delete(row.deploymentId);
    push(intervals, key, { from: started.from, to: t });
  }
  for (const { key, from } of open.values()) push(intervals, key, { from, to: Number.POSITIVE_INFINITY });
  for (const list of intervals.values()) list.sort((a, b) => a.from - b.from);

  return usage
    .map((row): TraceRequest => {
      const end = new Date(row.at).getTime();
      const latency = Math.max(0, Number(row.latencyMs));
      const arrived = arrivalOf(row);
      const live = intervals.get(`${row.clusterName}/${row.model}`) ?? [];
      const waitMs = live.some((i) => i.from <= arrived && arrived < i.to)
        ? 0
        : Math.min(latency, Math.max(0, (live.find((i) => i.from > arrived)?.from ?? end) - arrived));
      return {
        at: new Date(arrived).toISOString(),
        model: row.model,
        cluster: row.clusterName,
        user: row.userId ?? row.apiKeyId ?? "anonymous",
        kind: row.route === BATCH_ROUTE ? "batch" : "interactive",
        promptTokens: Number(row.promptTokens),
        completionTokens: Number(row.completionTokens),
        durationMs: latency - waitMs,
        waited: waitMs > 0,
        waitMs,
      };
    })
    .sort((a, b) => a.at.localeCompare(b.at));
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
