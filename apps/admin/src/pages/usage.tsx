import type { AppRouter } from "@switchyard/api";
import { useQuery } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { useMemo, useState } from "react";
import {
  Area,
  AreaChart,
  Bar,
  BarChart,
  CartesianGrid,
  Legend,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import { PageHeader, QueryView } from "../components/ui";
import { count } from "../format";
import { useTRPC } from "../trpc";

type Timeseries = inferRouterOutputs<AppRouter>["usage"]["timeseries"];

const RANGES = {
  "24h": { label: "Last 24 hours", hours: 24, bucket: "hour" },
  "7d": { label: "Last 7 days", hours: 7 * 24, bucket: "hour" },
  "30d": { label: "Last 30 days", hours: 30 * 24, bucket: "day" },
} as const;
type Range = keyof typeof RANGES;

const COLORS = ["#1f6feb", "#2da44e", "#bf8700", "#cf222e", "#8250df", "#0a7ea4", "#e16f24", "#57606a", "#bc4c00"];

function tick(iso: string, bucket: "hour" | "day"): string {
  const date = new Date(iso);
  return bucket === "hour"
    ? date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleDateString(undefined, { day: "numeric", month: "short" });
}

/** Rows for recharts: one per bucket, one field per series (`s0`, `s1`... as model ids contain dots). */
function chartRows(data: Timeseries, field: "requests" | "totalTokens") {
  return data.buckets.map((at, i) => {
    const row: Record<string, number | string> = { at };
    data.series.forEach((series, s) => {
      row[`s${s}`] = series.points[i]?.[field] ?? 0;
    });
    return row;
  });
}

function SeriesChart({
  data,
  field,
  kind,
}: {
  data: Timeseries;
  field: "requests" | "totalTokens";
  kind: "bar" | "area";
}) {
  const rows = useMemo(() => chartRows(data, field), [data, field]);
  const formatter = (value: unknown) => count(Number(value));
  const labelFormatter = (label: unknown) => new Date(String(label)).toLocaleString();
  const children = data.series.map((series, s) =>
    kind === "bar" ? (
      <Bar
        key={series.key}
        dataKey={`s${s}`}
        name={series.label}
        stackId="1"
        fill={COLORS[s % COLORS.length]}
        isAnimationActive={false}
      />
    ) : (
      <Area
        key={series.key}
        type="monotone"
        dataKey={`s${s}`}
        name={series.label}
        stackId="1"
        stroke={COLORS[s % COLORS.length]}
        fill={COLORS[s % COLORS.length]}
        fillOpacity={0.35}
        isAnimationActive={false}
      />
    ),
  );
  const axes = [
    <CartesianGrid key="grid" strokeDasharray="3 3" vertical={false} />,
    <XAxis key="x" dataKey="at" tickFormatter={(v: string) => tick(v, data.bucket)} minTickGap={24} fontSize={12} />,
    <YAxis key="y" tickFormatter={formatter} width={48} fontSize={12} />,
    <Tooltip key="tip" formatter={formatter} labelFormatter={labelFormatter} />,
    <Legend key="legend" />,
  ];
  return (
    <div className="chart" data-testid={`chart-${field}`}>
      <ResponsiveContainer width="100%" height={280}>
        {kind === "bar" ? (
          <BarChart data={rows}>
            {axes}
            {children}
          </BarChart>
        ) : (
          <AreaChart data={rows}>
            {axes}
            {children}
          </AreaChart>
        )}
      </ResponsiveContainer>
    </div>
  );
}

function TopUsers({ from, to }: { from: string; to: string }) {
  const trpc = useTRPC();
  const top = useQuery(trpc.usage.topUsers.queryOptions({ from, to, limit: 10 }));
  return (
    <section className="card">
      <h2>Top users</h2>
      <QueryView query={top} what="top users" empty="No requests in this window.">
        {(users) => (
          <>
            <div className="chart">
              <ResponsiveContainer width="100%" height={Math.max(120, users.length * 32)}>
                <BarChart data={users} layout="vertical" margin={{ left: 24 }}>
                  <XAxis type="number" tickFormatter={(v: number) => count(v)} fontSize={12} />
                  <YAxis type="category" dataKey="username" width={110} fontSize={12} />
                  <Tooltip formatter={(v: unknown) => count(Number(v))} />
                  <Bar dataKey="totalTokens" name="tokens" fill={COLORS[0]} isAnimationActive={false} />
                </BarChart>
              </ResponsiveContainer>
            </div>
            <table className="table compact">
              <thead>
                <tr>
                  <th>User</th>
                  <th>Requests</th>
                  <th>Tokens</th>
                  <th>Errors</th>
                </tr>
              </thead>
              <tbody>
                {users.map((u) => (
                  <tr key={u.userId ?? u.username}>
                    <td data-label="User">{u.username}</td>
                    <td data-label="Requests">{count(u.requests)}</td>
                    <td data-label="Tokens">{count(u.totalTokens)}</td>
                    <td data-label="Errors">{count(u.errors)}</td>
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

export function UsagePage({ admin }: { admin: boolean }) {
  const trpc = useTRPC();
  const [range, setRange] = useState<Range>("24h");
  const [groupBy, setGroupBy] = useState<"model" | "user">("model");
  // The window is fixed when the range is picked, so the charts' queries share one cache entry.
  const span = useMemo(() => {
    const to = new Date();
    to.setMinutes(60, 0, 0);
    return { from: new Date(to.getTime() - RANGES[range].hours * 3_600_000).toISOString(), to: to.toISOString() };
  }, [range]);
  const series = useQuery(
    trpc.usage.timeseries.queryOptions({ ...span, bucket: RANGES[range].bucket, groupBy, limit: 8 }),
  );
  return (
    <>
      <PageHeader title={admin ? "Usage" : "Your usage"}>
        <select aria-label="Time range" value={range} onChange={(e) => setRange(e.target.value as Range)}>
          {Object.entries(RANGES).map(([value, r]) => (
            <option key={value} value={value}>
              {r.label}
            </option>
          ))}
        </select>
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
      </PageHeader>
      <QueryView
        query={series}
        what="usage"
        isEmpty={(s) => s.totals.requests === 0}
        empty={
          <>
            No requests in this window. Requests through the gateway show up here within seconds (usage is written in
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
            <section className="card">
              <h2>Requests per {data.bucket}</h2>
              <SeriesChart data={data} field="requests" kind="bar" />
            </section>
            <section className="card">
              <h2>Tokens per {data.bucket}</h2>
              <SeriesChart data={data} field="totalTokens" kind="area" />
            </section>
          </>
        )}
      </QueryView>
      <div className="two-columns">
        {admin && <TopUsers from={span.from} to={span.to} />}
        <LatencyCard from={span.from} to={span.to} />
      </div>
    </>
  );
}
