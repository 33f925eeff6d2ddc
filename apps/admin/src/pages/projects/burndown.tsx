// A project's burn-down: the budget left (or, unlimited, spent in all) at the end of each hour
// or day since it was created, from the usage time series charged to it.
import { useQuery } from "@tanstack/react-query";
import { useMemo } from "react";
import { CartesianGrid, Line, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { QueryView } from "../../components/ui";
import { count, formatTime } from "../../format";
import { useTRPC } from "../../trpc";
import type { Project, Timeseries } from "./common";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * The window a burn-down spans: from the project's creation (nothing can be charged before)
 * to the end of the current hour, in hours up to a week and in days beyond (at most 400).
 */
function burndownWindow(createdAt: string): { from: string; to: string; bucket: "hour" | "day" } {
  const to = new Date();
  to.setUTCMinutes(60, 0, 0);
  const created = Date.parse(createdAt);
  if (to.getTime() - created <= 7 * DAY) {
    const from = Math.min(Math.floor(created / HOUR) * HOUR, to.getTime() - DAY);
    return { from: new Date(from).toISOString(), to: to.toISOString(), bucket: "hour" };
  }
  const end = Math.ceil(to.getTime() / DAY) * DAY;
  const from = Math.max(Math.floor(created / DAY) * DAY, end - 400 * DAY);
  return { from: new Date(from).toISOString(), to: new Date(end).toISOString(), bucket: "day" };
}

/**
 * What was left (or, unlimited, spent in all) at the end of each bucket. The spend before the
 * window (a project older than 400 days) is what the summary counts beyond the window's total.
 */
function burndownRows(project: Project, series: Timeseries) {
  const before = Math.max(0, project.spent - series.totals.totalTokens);
  const perBucket = series.buckets.map((_, i) =>
    series.series.reduce((sum, s) => sum + (s.points[i]?.totalTokens ?? 0), 0),
  );
  let spent = before;
  return series.buckets.map((at, i) => {
    spent += perBucket[i] ?? 0;
    return {
      at,
      used: perBucket[i] ?? 0,
      value: project.tokenBudget === null ? spent : Math.max(0, project.tokenBudget - spent),
    };
  });
}

export function Burndown({ project }: { project: Project }) {
  const trpc = useTRPC();
  const span = useMemo(() => burndownWindow(project.createdAt), [project.createdAt]);
  const series = useQuery(
    trpc.usage.timeseries.queryOptions({ ...span, groupBy: "none", limit: 1, project: project.name }),
  );
  const unlimited = project.tokenBudget === null;
  const tick = (iso: string) =>
    span.bucket === "hour"
      ? new Date(iso).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })
      : new Date(iso).toLocaleDateString(undefined, { day: "numeric", month: "short" });
  return (
    <section className="card" data-testid="burndown">
      <h2>{unlimited ? "Spent over time" : "Burn-down"}</h2>
      <p className="muted small">
        {unlimited
          ? "Tokens charged to the project, in all, at the end of each "
          : "Tokens of the budget left at the end of each "}
        {span.bucket} since {formatTime(span.from)}.
      </p>
      <QueryView query={series} what="the project's usage">
        {(data) => (
          <div className="chart">
            <ResponsiveContainer width="100%" height={260}>
              <LineChart data={burndownRows(project, data)} margin={{ right: 12 }}>
                <CartesianGrid strokeDasharray="3 3" vertical={false} />
                <XAxis dataKey="at" tickFormatter={tick} minTickGap={24} fontSize={12} />
                <YAxis
                  tickFormatter={(v: number) => count(v)}
                  width={52}
                  fontSize={12}
                  domain={[0, unlimited ? "auto" : (project.tokenBudget ?? "auto")]}
                />
                <Tooltip
                  formatter={(v: unknown) => count(Number(v))}
                  labelFormatter={(label: unknown) => new Date(String(label)).toLocaleString()}
                />
                {!unlimited && <ReferenceLine y={0} stroke="var(--danger)" />}
                <Line
                  type="stepAfter"
                  dataKey="value"
                  name={unlimited ? "spent" : "remaining"}
                  stroke="#1f6feb"
                  strokeWidth={2}
                  dot={false}
                  isAnimationActive={false}
                />
              </LineChart>
            </ResponsiveContainer>
          </div>
        )}
      </QueryView>
    </section>
  );
}
