import { actsAsAdmin, type Principal } from "@switchyard/auth";
import {
  apiError,
  LatencyInputSchema,
  LatencySchema,
  LiveStatsInputSchema,
  LiveStatsSchema,
  TopUserSchema,
  TopUsersInputSchema,
  UsageBreakdownInputSchema,
  UsageBreakdownSchema,
  type UsageBucket,
  UsageRequestPageSchema,
  UsageRequestsInputSchema,
  UsageTimeseriesInputSchema,
  UsageTimeseriesSchema,
  type UsageTotals,
} from "@switchyard/core";
import { Prisma } from "@switchyard/db";
import { z } from "zod";
import type { ApiDeps } from "../context";
import { adminProcedure, protectedProcedure, router } from "../trpc";

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MAX_BIGINT = 2n ** 63n - 1n;
/** Each bucket's length, and the longest window drawn in it (so a chart has at most ~3000 bars). */
const STEP: Record<UsageBucket, number> = {
  minute: MINUTE,
  "5min": 5 * MINUTE,
  "15min": 15 * MINUTE,
  hour: HOUR,
  day: DAY,
};
const MAX_SPAN: Record<UsageBucket, number> = {
  minute: 2 * DAY,
  "5min": 7 * DAY,
  "15min": 31 * DAY,
  hour: 31 * DAY,
  day: 400 * DAY,
};
const DEFAULT_SPAN: Record<UsageBucket, number> = {
  minute: HOUR,
  "5min": 6 * HOUR,
  "15min": DAY,
  hour: DAY,
  day: 30 * DAY,
};

interface Window {
  from: Date;
  to: Date;
}

/** The window asked for, with defaults (an hour of minutes, 24 h of hours, 30 days of days) and limits on its size. */
function resolveWindow(deps: ApiDeps, input: { from?: string; to?: string }, bucket: UsageBucket): Window {
  const to = input.to ? new Date(input.to) : new Date(deps.clock.now());
  const from = input.from ? new Date(input.from) : new Date(to.getTime() - DEFAULT_SPAN[bucket]);
  if (from.getTime() >= to.getTime()) throw apiError("invalid_field", { param: "from", detail: "must be before 'to'" });
  if (to.getTime() - from.getTime() > MAX_SPAN[bucket]) {
    throw apiError("invalid_field", {
      param: "from",
      detail: `a window of ${bucket === "5min" || bucket === "15min" ? `${bucket} bucket` : bucket}s spans at most ${MAX_SPAN[bucket] / DAY} days; use bucket 'day' or a shorter window`,
    });
  }
  return { from, to };
}

/** Only an admin acting as one (a key needs the `admin` scope) sees more than their own requests. */
function scopeFilter(principal: Principal, model?: string, projectId?: string): Prisma.Sql {
  const parts: Prisma.Sql[] = [];
  if (!actsAsAdmin(principal)) parts.push(Prisma.sql`AND "userId" = ${principal.userId}::uuid`);
  if (model) parts.push(Prisma.sql`AND "model" = ${model}`);
  if (projectId) parts.push(Prisma.sql`AND "projectId" = ${projectId}::uuid`);
  return parts.length === 0 ? Prisma.empty : Prisma.join(parts, " ");
}

/** The id of a project named in a usage query; 404 when there is none of that name. */
async function projectIdOf(deps: ApiDeps, name: string | undefined): Promise<string | undefined> {
  if (name === undefined) return undefined;
  const project = await deps.db.prisma.project.findUnique({ where: { name }, select: { id: true } });
  if (!project) throw apiError("resource_not_found", { kind: "project", id: name });
  return project.id;
}

function bucketStart(at: number, bucket: UsageBucket): number {
  return Math.floor(at / STEP[bucket]) * STEP[bucket];
}

const zero = (): UsageTotals => ({ requests: 0, errors: 0, promptTokens: 0, completionTokens: 0, totalTokens: 0 });

function add(into: UsageTotals, row: UsageTotals): void {
  into.requests += row.requests;
  into.errors += row.errors;
  into.promptTokens += row.promptTokens;
  into.completionTokens += row.completionTokens;
  into.totalTokens += row.totalTokens;
}

async function usernames(deps: ApiDeps, ids: string[]): Promise<Map<string, string>> {
  const valid = ids.filter((id) => /^[0-9a-f-]{36}$/i.test(id));
  if (valid.length === 0) return new Map();
  const users = await deps.db.prisma.user.findMany({
    where: { id: { in: valid } },
    select: { id: true, username: true },
  });
  return new Map(users.map((u) => [u.id, u.username]));
}

interface Row {
  bucket: number;
  key: string | null;
  requests: number;
  errors: number;
  prompt: number;
  completion: number;
}

export const usageRouter = router({
  /**
   * Requests and tokens per hour or day, one series per model or user (the largest `limit`,
   * the rest summed as `other`). Non-admins see their own usage only. With `project`, only
   * the usage charged to that project (what the dashboard's burn-down is drawn from).
   */
  timeseries: protectedProcedure
    .input(UsageTimeseriesInputSchema)
    .output(UsageTimeseriesSchema)
    .query(async ({ ctx, input }) => {
      const { from, to } = resolveWindow(ctx.deps, input, input.bucket);
      const projectId = await projectIdOf(ctx.deps, input.project);
      // Buckets are whole multiples of their length since the epoch (UTC hours and days, as date_trunc).
      const step = STEP[input.bucket];
      const key =
        input.groupBy === "model"
          ? Prisma.sql`"model"`
          : input.groupBy === "user"
            ? Prisma.sql`"userId"::text`
            : Prisma.sql`'all'`;
      const rows = await ctx.deps.db.prisma.$queryRaw<Row[]>`
        SELECT (floor(extract(epoch FROM "at") * 1000 / ${step}) * ${step})::float8 AS "bucket",
               ${key} AS "key",
               count(*)::float8 AS "requests",
               (count(*) FILTER (WHERE "status" >= 400))::float8 AS "errors",
               coalesce(sum("promptTokens"), 0)::float8 AS "prompt",
               coalesce(sum("completionTokens"), 0)::float8 AS "completion"
        FROM "usage_records"
        WHERE "at" >= ${from} AND "at" < ${to} ${scopeFilter(ctx.principal, input.model, projectId)}
        GROUP BY 1, 2`;

      const buckets: string[] = [];
      const starts: number[] = [];
      for (let at = bucketStart(from.getTime(), input.bucket); at < to.getTime(); at += step) {
        starts.push(at);
        buckets.push(new Date(at).toISOString());
      }
      const index = new Map(starts.map((b, i) => [b, i]));
      const perKey = new Map<string, { totals: UsageTotals; points: UsageTotals[] }>();
      const totals = zero();
      for (const row of rows) {
        const i = index.get(row.bucket);
        if (i === undefined) continue;
        const name = row.key ?? "unknown";
        let entry = perKey.get(name);
        if (!entry) {
          entry = { totals: zero(), points: buckets.map(zero) };
          perKey.set(name, entry);
        }
        const value: UsageTotals = {
          requests: row.requests,
          errors: row.errors,
          promptTokens: row.prompt,
          completionTokens: row.completion,
          totalTokens: row.prompt + row.completion,
        };
        add(entry.points[i]!, value);
        add(entry.totals, value);
        add(totals, value);
      }
      const ranked = [...perKey.entries()].sort(
        (a, b) => b[1].totals.totalTokens - a[1].totals.totalTokens || b[1].totals.requests - a[1].totals.requests,
      );
      const shown = ranked.slice(0, input.limit);
      const rest = ranked.slice(input.limit);
      if (rest.length > 0) {
        const other = { totals: zero(), points: buckets.map(zero) };
        for (const [, entry] of rest) {
          add(other.totals, entry.totals);
          entry.points.forEach((p, i) => {
            add(other.points[i]!, p);
          });
        }
        shown.push([`other (${rest.length})`, other]);
      }
      const names = input.groupBy === "user" ? await usernames(ctx.deps, [...perKey.keys()]) : new Map();
      return {
        from: from.toISOString(),
        to: to.toISOString(),
        bucket: input.bucket,
        groupBy: input.groupBy,
        buckets,
        totals,
        series: shown.map(([k, entry]) => ({
          key: k,
          label: names.get(k) ?? k,
          totals: entry.totals,
          points: entry.points.map((p, i) => ({ ...p, at: buckets[i]! })),
        })),
      };
    }),

  /** The heaviest users of a window, by tokens then requests. */
  topUsers: adminProcedure
    .input(TopUsersInputSchema)
    .output(z.array(TopUserSchema))
    .query(async ({ ctx, input }) => {
      const { from, to } = resolveWindow(ctx.deps, input, "day");
      const rows = await ctx.deps.db.prisma.$queryRaw<
        (Omit<Row, "bucket" | "key"> & { userId: string | null; lastAt: Date })[]
      >`
        SELECT "userId"::text AS "userId",
               count(*)::float8 AS "requests",
               (count(*) FILTER (WHERE "status" >= 400))::float8 AS "errors",
               coalesce(sum("promptTokens"), 0)::float8 AS "prompt",
               coalesce(sum("completionTokens"), 0)::float8 AS "completion",
               max("at") AS "lastAt"
        FROM "usage_records"
        WHERE "at" >= ${from} AND "at" < ${to}
        GROUP BY 1
        ORDER BY coalesce(sum("promptTokens"), 0) + coalesce(sum("completionTokens"), 0) DESC, count(*) DESC
        LIMIT ${input.limit}`;
      const names = await usernames(
        ctx.deps,
        rows.flatMap((r) => (r.userId ? [r.userId] : [])),
      );
      return rows.map((r) => ({
        userId: r.userId,
        username: (r.userId && names.get(r.userId)) || "(unknown user)",
        requests: r.requests,
        errors: r.errors,
        promptTokens: r.prompt,
        completionTokens: r.completion,
        totalTokens: r.prompt + r.completion,
        lastAt: new Date(r.lastAt).toISOString(),
      }));
    }),

  /**
   * Requests, tokens and errors of a window per user or per project (the dashboard's tables and
   * their CSV), most tokens first. Non-admins see their own requests only: one row for
   * themselves, or one per project they charged.
   */
  breakdown: protectedProcedure
    .input(UsageBreakdownInputSchema)
    .output(UsageBreakdownSchema)
    .query(async ({ ctx, input }) => {
      const { from, to } = resolveWindow(ctx.deps, input, "day");
      const key = input.by === "user" ? Prisma.sql`"userId"::text` : Prisma.sql`"projectId"::text`;
      const rows = await ctx.deps.db.prisma.$queryRaw<(Omit<Row, "bucket" | "key"> & { key: string | null })[]>`
        SELECT ${key} AS "key",
               count(*)::float8 AS "requests",
               (count(*) FILTER (WHERE "status" >= 400))::float8 AS "errors",
               coalesce(sum("promptTokens"), 0)::float8 AS "prompt",
               coalesce(sum("completionTokens"), 0)::float8 AS "completion"
        FROM "usage_records"
        WHERE "at" >= ${from} AND "at" < ${to} ${scopeFilter(ctx.principal)}
        GROUP BY 1
        ORDER BY coalesce(sum("promptTokens"), 0) + coalesce(sum("completionTokens"), 0) DESC, count(*) DESC, 1
        LIMIT ${input.limit}`;
      const ids = rows.flatMap((r) => (r.key ? [r.key] : []));
      const names =
        input.by === "user"
          ? await usernames(ctx.deps, ids)
          : new Map(
              (
                await ctx.deps.db.prisma.project.findMany({
                  where: { id: { in: ids } },
                  select: { id: true, name: true },
                })
              ).map((p) => [p.id, p.name]),
            );
      const none = input.by === "user" ? "(unknown user)" : "(no project)";
      return {
        from: from.toISOString(),
        to: to.toISOString(),
        by: input.by,
        rows: rows.map((r) => ({
          key: r.key,
          label: (r.key && names.get(r.key)) || (r.key ? `(deleted ${input.by})` : none),
          requests: r.requests,
          errors: r.errors,
          promptTokens: r.prompt,
          completionTokens: r.completion,
          totalTokens: r.prompt + r.completion,
        })),
      };
    }),

  /**
   * The request log: usage rows newest first, `limit` at a time. Pages follow a keyset cursor
   * (the last row's time and id), so a page deep in a large table costs what the first one does.
   * Non-admins see their own requests only, whatever `user` they name.
   */
  requests: protectedProcedure
    .input(UsageRequestsInputSchema)
    .output(UsageRequestPageSchema)
    .query(async ({ ctx, input }) => {
      const from = input.from ? new Date(input.from) : undefined;
      const to = input.to ? new Date(input.to) : undefined;
      if (from && to && from.getTime() >= to.getTime()) {
        throw apiError("invalid_field", { param: "from", detail: "must be before 'to'" });
      }
      const where: Prisma.UsageRecordWhereInput[] = [];
      if (!actsAsAdmin(ctx.principal)) where.push({ userId: ctx.principal.userId });
      if (input.user) {
        const user = await ctx.deps.db.prisma.user.findUnique({
          where: { username: input.user },
          select: { id: true },
        });
        // An unknown name matches nothing (no 404: the log must not tell which names exist).
        if (!user) return { entries: [], nextCursor: null };
        where.push({ userId: user.id });
      }
      if (input.model) where.push({ model: input.model });
      if (input.status) {
        const low = Number(input.status[0]) * 100;
        where.push({ status: { gte: low, lt: low + 100 } });
      }
      if (from) where.push({ at: { gte: from } });
      if (to) where.push({ at: { lt: to } });
      if (input.cursor) {
        const [ms, id] = input.cursor.split("_") as [string, string];
        const at = new Date(Number(ms));
        if (Number.isNaN(at.getTime()) || BigInt(id) > MAX_BIGINT) {
          throw apiError("invalid_field", { param: "cursor", detail: "pass the previous page's nextCursor" });
        }
        // (at, id) < (cursor): written out so the index on "at" bounds the scan.
        where.push({ at: { lte: at } }, { OR: [{ at: { lt: at } }, { id: { lt: BigInt(id) } }] });
      }
      const rows = await ctx.deps.db.prisma.usageRecord.findMany({
        where: { AND: where },
        orderBy: [{ at: "desc" }, { id: "desc" }],
        take: input.limit + 1,
      });
      const page = rows.slice(0, input.limit);
      const names = await usernames(ctx.deps, [...new Set(page.flatMap((r) => (r.userId ? [r.userId] : [])))]);
      const projectIds = [...new Set(page.flatMap((r) => (r.projectId ? [r.projectId] : [])))];
      const projects =
        projectIds.length === 0
          ? new Map<string, string>()
          : new Map(
              (
                await ctx.deps.db.prisma.project.findMany({
                  where: { id: { in: projectIds } },
                  select: { id: true, name: true },
                })
              ).map((p) => [p.id, p.name]),
            );
      const last = page.at(-1);
      return {
        entries: page.map((r) => ({
          id: r.id.toString(),
          at: r.at.toISOString(),
          requestId: r.requestId,
          userId: r.userId,
          username: (r.userId && names.get(r.userId)) || "(unknown user)",
          model: r.model,
          cluster: r.clusterName,
          route: r.route,
          status: r.status,
          latencyMs: r.latencyMs,
          ttftMs: r.ttftMs,
          promptTokens: r.promptTokens,
          completionTokens: r.completionTokens,
          stream: r.stream,
          project: r.projectId ? (projects.get(r.projectId) ?? "(deleted project)") : null,
        })),
        nextCursor: rows.length > input.limit && last ? `${last.at.getTime()}_${last.id}` : null,
      };
    }),

  /** Latency percentiles of successful requests (status below 400), overall and per model. */
  latency: protectedProcedure
    .input(LatencyInputSchema)
    .output(LatencySchema)
    .query(async ({ ctx, input }) => {
      const { from, to } = resolveWindow(ctx.deps, input, "day");
      const rows = await ctx.deps.db.prisma.$queryRaw<
        { model: string | null; count: number; p50: number | null; p95: number | null; p99: number | null }[]
      >`
        SELECT CASE WHEN GROUPING("model") = 1 THEN NULL ELSE "model" END AS "model",
               count(*)::float8 AS "count",
               percentile_cont(0.5) WITHIN GROUP (ORDER BY "latencyMs")::float8 AS "p50",
               percentile_cont(0.95) WITHIN GROUP (ORDER BY "latencyMs")::float8 AS "p95",
               percentile_cont(0.99) WITHIN GROUP (ORDER BY "latencyMs")::float8 AS "p99"
        FROM "usage_records"
        WHERE "at" >= ${from} AND "at" < ${to} AND "status" < 400 ${scopeFilter(ctx.principal, input.model)}
        GROUP BY ROLLUP ("model")`;
      const overall = rows.find((r) => r.model === null);
      const round = (v: number | null) => (v === null ? null : Math.round(v * 10) / 10);
      return {
        from: from.toISOString(),
        to: to.toISOString(),
        overall: {
          count: overall?.count ?? 0,
          p50: round(overall?.p50 ?? null),
          p95: round(overall?.p95 ?? null),
          p99: round(overall?.p99 ?? null),
        },
        byModel: rows
          .filter((r): r is typeof r & { model: string } => r.model !== null)
          .sort((a, b) => b.count - a.count)
          .map((r) => ({ model: r.model, count: r.count, p50: round(r.p50), p95: round(r.p95), p99: round(r.p99) })),
      };
    }),

  /**
   * The Overview's headline figures over the last `minutes` (default 10): requests and
   * generated tokens per second, the error rate, p50/p99 time to first token of successful
   * streamed requests, the lines waiting in running batches, and a point per minute for the
   * sparklines. Non-admins see their own traffic and batches only.
   */
  live: protectedProcedure
    .input(LiveStatsInputSchema)
    .output(LiveStatsSchema)
    .query(async ({ ctx, input }) => {
      const to = new Date(ctx.deps.clock.now());
      const from = new Date(to.getTime() - input.minutes * MINUTE);
      const scope = scopeFilter(ctx.principal);
      const [totals] = await ctx.deps.db.prisma.$queryRaw<
        { requests: number; errors: number; completion: number; p50: number | null; p99: number | null }[]
      >`
        SELECT count(*)::float8 AS "requests",
               (count(*) FILTER (WHERE "status" >= 400))::float8 AS "errors",
               coalesce(sum("completionTokens"), 0)::float8 AS "completion",
               (percentile_cont(0.5) WITHIN GROUP (ORDER BY "ttftMs") FILTER (WHERE "status" < 400))::float8 AS "p50",
               (percentile_cont(0.99) WITHIN GROUP (ORDER BY "ttftMs") FILTER (WHERE "status" < 400))::float8 AS "p99"
        FROM "usage_records"
        WHERE "at" > ${from} AND "at" <= ${to} ${scope}`;
      const perMinute = await ctx.deps.db.prisma.$queryRaw<
        { minute: string; requests: number; errors: number; tokens: number }[]
      >`
        SELECT to_char(date_trunc('minute', "at" AT TIME ZONE 'UTC'), 'YYYY-MM-DD"T"HH24:MI:SS".000Z"') AS "minute",
               count(*)::float8 AS "requests",
               (count(*) FILTER (WHERE "status" >= 400))::float8 AS "errors",
               coalesce(sum("completionTokens"), 0)::float8 AS "tokens"
        FROM "usage_records"
        WHERE "at" > ${from} AND "at" <= ${to} ${scope}
        GROUP BY 1`;
      const running = await ctx.deps.db.prisma.batch.findMany({
        where: {
          status: "in_progress",
          ...(actsAsAdmin(ctx.principal) ? {} : { userId: ctx.principal.userId }),
        },
        select: { totalCount: true, completedCount: true, failedCount: true },
      });
      const byMinute = new Map(perMinute.map((row) => [row.minute, row]));
      const series: { at: string; requests: number; errors: number; tokens: number }[] = [];
      for (let at = Math.floor(from.getTime() / MINUTE) * MINUTE; at <= to.getTime(); at += MINUTE) {
        const key = new Date(at).toISOString();
        const row = byMinute.get(key);
        series.push({ at: key, requests: row?.requests ?? 0, errors: row?.errors ?? 0, tokens: row?.tokens ?? 0 });
      }
      const seconds = input.minutes * 60;
      const requests = totals?.requests ?? 0;
      const errors = totals?.errors ?? 0;
      const round = (v: number, places: number) => Math.round(v * 10 ** places) / 10 ** places;
      return {
        from: from.toISOString(),
        to: to.toISOString(),
        windowSeconds: seconds,
        requests,
        errors,
        requestsPerSecond: round(requests / seconds, 3),
        errorRate: requests === 0 ? null : round(errors / requests, 4),
        ttftP50Ms: totals?.p50 == null ? null : round(totals.p50, 1),
        ttftP99Ms: totals?.p99 == null ? null : round(totals.p99, 1),
        tokensPerSecond: round((totals?.completion ?? 0) / seconds, 2),
        backlog: {
          batches: running.length,
          lines: running.reduce((sum, b) => sum + Math.max(0, b.totalCount - b.completedCount - b.failedCount), 0),
        },
        series,
      };
    }),
});
