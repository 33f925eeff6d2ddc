import type { AppRouter } from "@switchyard/api";
import { keepPreviousData, useQuery, useQueryClient } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { type RefObject, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import {
  type Range,
  RangePicker,
  RefreshPicker,
  rangeFromQuery,
  rangeQuery,
  rangeSpan,
  rangeWords,
  refreshFromQuery,
} from "../components/range";
import { PageHeader, QueryView } from "../components/ui";
import {
  BUCKET_MS,
  BUCKET_WORDS,
  type Bucket,
  bucketFor,
  type CsvValue,
  count,
  tickLabel,
  timeTicks,
  toCsv,
} from "../format";
import { saveBlob } from "../http";
import { BASE, useLocation } from "../router";
import { useTRPC } from "../trpc";

type Timeseries = inferRouterOutputs<AppRouter>["usage"]["timeseries"];
type Breakdown = inferRouterOutputs<AppRouter>["usage"]["breakdown"];

const COLORS = ["#1f6feb", "#2da44e", "#bf8700", "#cf222e", "#8250df", "#0a7ea4", "#e16f24", "#57606a", "#bc4c00"];
/** Both charts' y axes are this wide, so their plot areas (and time axes) line up. */
const Y_AXIS_WIDTH = 56;

/** Rows for recharts: one per bucket, one field per series (`s0`, `s1`... as model ids contain dots). */
function chartRows(data: Timeseries, field: "requests" | "totalTokens") {
  return data.buckets.map((at, i) => {
    const row: Record<string, number> = { at: Date.parse(at) };
    data.series.forEach((series, s) => {
      row[`s${s}`] = series.points[i]?.[field] ?? 0;
    });
    return row;
  });
}

/**
 * One stacked bar per bucket and series. The x axis is the list of buckets itself, so an hour
 * of traffic is an hour of bars (never a ramp), and both charts get the same buckets and ticks.
 */
function SeriesChart({
  data,
  field,
  ticks,
  step,
}: {
  data: Timeseries;
  field: "requests" | "totalTokens";
  ticks: number[];
  step: number;
}) {
  const rows = useMemo(() => chartRows(data, field), [data, field]);
  const formatter = (value: unknown) => count(Number(value));
  const bucketMs = BUCKET_MS[data.bucket];
  const labelFormatter = (label: unknown) => {
    const start = Number(label);
    const end = new Date(start + bucketMs);
    const from = new Date(start).toLocaleString(undefined, {
      day: "numeric",
      month: "short",
      hour: "2-digit",
      minute: "2-digit",
    });
    return data.bucket === "day"
      ? `${new Date(start).toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" })} (UTC day)`
      : `${from} – ${end.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })}`;
  };
  return (
    <div className="chart" data-testid={`chart-${field}`}>
      <ResponsiveContainer width="100%" height={240}>
        <BarChart
          data={rows}
          syncId="usage"
          barCategoryGap={rows.length > 100 ? 0 : "10%"}
          margin={{ left: 0, right: 24 }}
        >
          <CartesianGrid strokeDasharray="3 3" vertical={false} />
          <XAxis
            dataKey="at"
            ticks={ticks}
            interval={0}
            tickFormatter={(v: number) => tickLabel(v, step)}
            fontSize={12}
          />
          <YAxis tickFormatter={formatter} width={Y_AXIS_WIDTH} fontSize={12} allowDecimals={false} />
          <Tooltip formatter={formatter} labelFormatter={labelFormatter} />
          <Legend />
          {data.series.map((series, s) => (
            <Bar
              key={series.key}
              dataKey={`s${s}`}
              name={series.label}
              stackId="1"
              fill={COLORS[s % COLORS.length]}
              isAnimationActive={false}
            />
          ))}
        </BarChart>
      </ResponsiveContainer>
    </div>
  );
}

/** An element's width, kept up to date as the window resizes. */
function useWidth<E extends HTMLElement>(): [RefObject<E | null>, number] {
  const ref = useRef<E>(null);
  const [width, setWidth] = useState(0);
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    const observer = new ResizeObserver(([entry]) => setWidth(entry?.contentRect.width ?? 0));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  return [ref, width];
}

/** The requests and tokens charts, one above the other on one time axis. */
function Charts({ data }: { data: Timeseries }) {
  // One label per ~90 px of axis (a time like "08:30 PM" needs about 60): 3 on a phone, 8 on a desk.
  const [ref, width] = useWidth<HTMLElement>();
  const maxTicks = Math.min(8, Math.max(3, Math.floor((width - Y_AXIS_WIDTH) / 90)));
  const { ticks, step } = useMemo(
    () =>
      timeTicks(
        data.buckets.map((b) => Date.parse(b)),
        data.bucket as Bucket,
        maxTicks,
      ),
    [data.buckets, data.bucket, maxTicks],
  );
  const per = BUCKET_WORDS[data.bucket];
  return (
    <section className="card charts" ref={ref}>
      <h2>Requests per {per}</h2>
      <SeriesChart data={data} field="requests" ticks={ticks} step={step} />
      <h2>Tokens per {per}</h2>
      <SeriesChart data={data} field="totalTokens" ticks={ticks} step={step} />
    </section>
  );
}

const BY_LABEL = { user: "User", project: "Project" } as const;

/** `2026-12-05T10:00` (local time, for file names). */
const fileStamp = (iso: string) => {
  const at = Date.parse(iso);
  return new Date(at - new Date(at).getTimezoneOffset() * 60_000).toISOString().slice(0, 16).replace(":", "");
};

/** Requests, tokens and errors per user or per project over the range, with a CSV of the table. */
function BreakdownTable({ by, from, to }: { by: "user" | "project"; from: string; to: string }) {
  const trpc = useTRPC();
  const query = useQuery({
    ...trpc.usage.breakdown.queryOptions({ from, to, by }),
    placeholderData: keepPreviousData,
  });
  const exportCsv = (data: Breakdown) => {
    const header = [BY_LABEL[by], "Requests", "Prompt tokens", "Completion tokens", "Total tokens", "Errors"];
    const rows: CsvValue[][] = data.rows.map((r) => [
      r.label,
      r.requests,
      r.promptTokens,
      r.completionTokens,
      r.totalTokens,
      r.errors,
    ]);
    saveBlob(
      new Blob([toCsv(header, rows)], { type: "text/csv;charset=utf-8" }),
      `usage-by-${by}-${fileStamp(data.from)}-${fileStamp(data.to)}.csv`,
    );
  };
  return (
    <section className="card" data-testid={`breakdown-${by}`}>
      <div className="card-header">
        <h2>By {by}</h2>
        {query.data && query.data.rows.length > 0 && (
          <button type="button" className="button" onClick={() => exportCsv(query.data)}>
            Download CSV
          </button>
        )}
      </div>
      <QueryView
        query={query}
        what={`usage by ${by}`}
        isEmpty={(d) => d.rows.length === 0}
        empty="No requests in this range."
      >
        {(data) => (
          <table className="table compact breakdown">
            <thead>
              <tr>
                <th>{BY_LABEL[by]}</th>
                <th className="number">Requests</th>
                <th className="number">Prompt</th>
                <th className="number">Completion</th>
                <th className="number">Errors</th>
              </tr>
            </thead>
            <tbody>
              {data.rows.map((r) => (
                <tr key={r.key ?? "none"} data-row={r.label}>
                  <td data-label={BY_LABEL[by]}>{r.label}</td>
                  <td data-label="Requests" className="number">
                    {count(r.requests)}
                  </td>
                  <td data-label="Prompt tokens" className="number">
                    {count(r.promptTokens)}
                  </td>
                  <td data-label="Completion tokens" className="number">
                    {count(r.completionTokens)}
                  </td>
                  <td data-label="Errors" className="number">
                    {count(r.errors)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </QueryView>
    </section>
  );
}

function LatencyCard({ from, to }: { from: string; to: string }) {
  const trpc = useTRPC();
  const latency = useQuery(trpc.usage.latency.queryOptions({ from, to }));
  const ms = (v: number | null) => (v === null ? "—" : `${count(Math.round(v))} ms`);
  return (
    <section className="card">
      <h2>Latency (successful requests)</h2>
      <QueryView
        query={latency}
        what="latency"
        isEmpty={(l) => l.overall.count === 0}
        empty="No requests in this window."
      >
        {(l) => (
          <>
            <Stats
              className="stats"
              items={[
                [ms(l.overall.p50), "p50"],
                [ms(l.overall.p95), "p95"],
                [ms(l.overall.p99), "p99"],
              ]}
            />
            <div className="chart">
              <ResponsiveContainer width="100%" height={Math.max(140, l.byModel.length * 40)}>
                <BarChart data={l.byModel.slice(0, 12)} layout="vertical" margin={{ left: 24 }}>
                  <XAxis type="number" unit=" ms" fontSize={12} />
                  <YAxis type="category" dataKey="model" width={180} fontSize={11} />
                  <Tooltip formatter={(v: unknown) => `${Math.round(Number(v))} ms`} />
                  <Legend />
                  <Bar dataKey="p50" fill={COLORS[1]} isAnimationActive={false} />
                  <Bar dataKey="p95" fill={COLORS[2]} isAnimationActive={false} />
                  <Bar dataKey="p99" fill={COLORS[3]} isAnimationActive={false} />
                </BarChart>
              </ResponsiveContainer>
            </div>
            <table className="table compact">
              <thead>
                <tr>
                  <th>Model</th>
                  <th>Requests</th>
                  <th>p50</th>
                  <th>p95</th>
                  <th>p99</th>
                </tr>
              </thead>
              <tbody>
                {l.byModel.map((m) => (
                  <tr key={m.model}>
                    <td data-label="Model">{m.model}</td>
                    <td data-label="Requests">{count(m.count)}</td>
                    <td data-label="p50">{ms(m.p50)}</td>
                    <td data-label="p95">{ms(m.p95)}</td>
                    <td data-label="p99">{ms(m.p99)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </QueryView>
    </section>
  );
}

/** A row of headline figures, each a value and what it counts. */
function Stats({ className, items }: { className: string; items: [string, string][] }) {
  return (
    <div className={className}>
      {items.map(([value, label]) => (
        <div key={label}>
          <span className="stat">{value}</span> {label}
        </div>
      ))}
    </div>
  );
}

/**
 * The window of a range: a relative range ends with the bucket now in progress (so the latest
 * bars grow as requests come in) and moves on with `now`; a custom one is as given.
 */
function windowOf(range: Range, now: number): { from: string; to: string; bucket: Bucket } {
  const bucket = bucketFor(rangeSpan(range));
  if (range.key === "custom") {
    return { from: new Date(range.from).toISOString(), to: new Date(range.to).toISOString(), bucket };
  }
  const step = BUCKET_MS[bucket];
  const to = Math.floor(now / step) * step + step;
  return { from: new Date(to - rangeSpan(range)).toISOString(), to: new Date(to).toISOString(), bucket };
}

export function UsagePage({ admin }: { admin: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const { search } = useLocation();
  const [range, setRange] = useState<Range>(() => rangeFromQuery(search, { key: "24h" }));
  const [groupBy, setGroupBy] = useState<"model" | "user">(() =>
    admin && search.get("group") === "user" ? "user" : "model",
  );
  const [refreshMs, setRefreshMs] = useState(() => refreshFromQuery(search));
  // The view is kept in the address (as Grafana does): a reload or a shared link shows the same.
  useEffect(() => {
    const query = rangeQuery(range, refreshMs);
    if (groupBy === "user") query.set("group", "user");
    history.replaceState(history.state, "", `${BASE}/usage?${query}`);
  }, [range, refreshMs, groupBy]);
  const [now, setNow] = useState(() => Date.now());
  // Every query of the page shares one window, fixed until the range changes or a refresh.
  const span = useMemo(() => windowOf(range, now), [range, now]);
  const refresh = useCallback(() => {
    setNow(Date.now());
    void queryClient.invalidateQueries(trpc.usage.pathFilter());
  }, [queryClient, trpc]);
  useEffect(() => {
    if (refreshMs === 0) return;
    const timer = setInterval(refresh, refreshMs);
    return () => clearInterval(timer);
  }, [refreshMs, refresh]);
  const series = useQuery({
    ...trpc.usage.timeseries.queryOptions({ ...span, groupBy, limit: 8 }),
    placeholderData: keepPreviousData,
  });
  const updated = series.dataUpdatedAt
    ? new Date(series.dataUpdatedAt).toLocaleTimeString(undefined, {
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
      })
    : null;
  return (
    <>
      <PageHeader title={admin ? "Usage" : "Your usage"}>
        {admin && (
          <select
            aria-label="Group by"
            value={groupBy}
            onChange={(e) => setGroupBy(e.target.value as "model" | "user")}
          >
            <option value="model">by model</option>
            <option value="user">by user</option>
          </select>
        )}
        <RefreshPicker value={refreshMs} onChange={setRefreshMs} />
        <button type="button" className="button" onClick={refresh} disabled={series.isFetching}>
          Refresh
        </button>
      </PageHeader>
      <div className="toolbar">
        <RangePicker
          range={range}
          onChange={(next) => {
            if (next) setRange(next);
            setNow(Date.now());
          }}
        />
        <span className="muted small" data-testid="usage-updated">
          {rangeWords(range)}, per {BUCKET_WORDS[span.bucket]}
          {updated ? ` · updated ${updated}` : ""}
          {refreshMs ? ` · every ${refreshMs / 1000} s` : ""}
        </span>
      </div>
      <QueryView
        query={series}
        what="usage"
        isEmpty={(s) => s.totals.requests === 0}
        empty={
          <>
            No requests in this range. Requests through the gateway show up here within seconds (usage is written in
            batches).
          </>
        }
      >
        {(data) => (
          <>
            <Stats
              className="stats card"
              items={[
                [count(data.totals.requests), "requests"],
                [count(data.totals.totalTokens), "tokens"],
                [count(data.totals.promptTokens), "prompt"],
                [count(data.totals.completionTokens), "completion"],
                [count(data.totals.errors), "errors"],
              ]}
            />
            <Charts data={data} />
          </>
        )}
      </QueryView>
      <div className="two-columns">
        <BreakdownTable by="user" from={span.from} to={span.to} />
        <BreakdownTable by="project" from={span.from} to={span.to} />
      </div>
      <LatencyCard from={span.from} to={span.to} />
    </>
  );
}
