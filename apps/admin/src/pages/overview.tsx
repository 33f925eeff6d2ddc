import type { AppRouter } from "@switchyard/api";
import { useQuery } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { Empty, PageHeader, QueryView, StatusBadge } from "../components/ui";
import { etaCell, formatTime } from "../format";
import { Link } from "../router";
import { useTRPC } from "../trpc";

type Outputs = inferRouterOutputs<AppRouter>;
type NodeView = Outputs["nodes"]["list"][number];
type Cluster = Outputs["clusters"]["list"][number];
type Live = Outputs["usage"]["live"];

/** How many minutes the headline figures cover. */
const LIVE_MINUTES = 10;

/** A small line of a figure's last minutes (SVG attributes only: the page's CSP allows no inline styles). */
function Sparkline({ values, label }: { values: number[]; label: string }) {
  if (values.length < 2) return null;
  const max = Math.max(...values, 1e-9);
  const width = 120;
  const height = 28;
  const points = values
    .map(
      (v, i) =>
        `${((i / (values.length - 1)) * width).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`,
    )
    .join(" ");
  return (
    <svg
      className="sparkline"
      viewBox={`0 0 ${width} ${height}`}
      preserveAspectRatio="none"
      role="img"
      aria-label={label}
    >
      <polyline points={points} fill="none" stroke="currentColor" strokeWidth="1.5" />
    </svg>
  );
}

function Figure({
  id,
  title,
  value,
  note,
  series,
}: {
  id: string;
  title: string;
  value: string;
  note?: string | undefined;
  series?: number[] | undefined;
}) {
  return (
    <article className="figure card" data-figure={id}>
      <h3>{title}</h3>
      <span className="figure-value" data-testid={`figure-${id}`}>
        {value}
      </span>
      {note && <span className="muted small">{note}</span>}
      {series && <Sparkline values={series} label={`${title}, a point a minute`} />}
    </article>
  );
}

const rate = (v: number) => (v === 0 ? "0" : v < 10 ? v.toFixed(2) : v.toFixed(0));
const ms = (v: number | null) => (v === null ? "—" : v < 1000 ? `${Math.round(v)} ms` : `${(v / 1000).toFixed(1)} s`);

/** The figures an operator checks first: traffic of the last minutes, GPUs, batch backlog. */
export function Figures({ live, clusters }: { live: Live; clusters: Cluster[] }) {
  const active = clusters.filter((c) => c.status !== "coming_soon");
  const gpus = active.reduce((sum, c) => sum + c.gpus, 0);
  const used = active.reduce((sum, c) => sum + c.gpusUsed, 0);
  const perMinute = (pick: (p: Live["series"][number]) => number) => live.series.map(pick);
  return (
    <section className="figures" aria-label={`The last ${LIVE_MINUTES} minutes`}>
      <Figure
        id="rps"
        title="Requests/s"
        value={rate(live.requestsPerSecond)}
        note={`${live.requests} in ${LIVE_MINUTES} min`}
        series={perMinute((p) => p.requests)}
      />
      <Figure
        id="errors"
        title="Error rate"
        value={live.errorRate === null ? "—" : `${(live.errorRate * 100).toFixed(1)} %`}
        note={`${live.errors} failed`}
        series={perMinute((p) => p.errors)}
      />
      <Figure id="ttft" title="First token, p50" value={ms(live.ttftP50Ms)} note={`p99 ${ms(live.ttftP99Ms)}`} />
      <Figure
        id="tokens"
        title="Tokens/s"
        value={rate(live.tokensPerSecond)}
        note="generated"
        series={perMinute((p) => p.tokens)}
      />
      <Figure id="gpus" title="GPUs in use" value={`${used} / ${gpus}`} note={`${gpus - used} free`} />
      <Figure
        id="backlog"
        title="Batch backlog"
        value={String(live.backlog.lines)}
        note={`lines waiting in ${live.backlog.batches} running batch${live.backlog.batches === 1 ? "" : "es"}`}
      />
    </section>
  );
}

/** One cell per GPU, coloured by the state of the deployment holding it. */
function GpuCells({ node }: { node: NodeView }) {
  const cells: { key: string; state: string; model: string | null }[] = [];
  for (const deployment of node.deployments) {
    for (let i = 0; i < deployment.gpus; i++) {
      cells.push({ key: `${deployment.deploymentId}-${i}`, state: deployment.state, model: deployment.model });
    }
  }
  while (cells.length < node.gpus) cells.push({ key: `free-${cells.length}`, state: "free", model: null });
  return (
    <div className="gpus" role="img" aria-label={`${node.gpusUsed} of ${node.gpus} GPUs in use`}>
      {cells.map((cell) => (
        <span key={cell.key} className={`gpu gpu-${cell.state}`} title={cell.model ?? "free"} />
      ))}
    </div>
  );
}

function NodeCard({ node }: { node: NodeView }) {
  return (
    <article className="node card" data-node={node.name}>
      <header>
        <h3>{node.name}</h3>
        <span className={`tag role-tag-${node.role}`}>{node.role}</span>
      </header>
      <GpuCells node={node} />
      <p className="muted small">
        {node.gpusFree} of {node.gpus} GPUs free
      </p>
      {node.deployments.length === 0 ? (
        <p className="muted small">No deployments</p>
      ) : (
        <ul className="deployments">
          {node.deployments.map((d) => (
            <li key={d.deploymentId} data-model={d.model ?? ""}>
              <span className="model-name" title={d.model ?? d.deploymentId}>
                {d.model ?? d.deploymentId}
              </span>
              <StatusBadge status={d.state} />
            </li>
          ))}
        </ul>
      )}
    </article>
  );
}

function Queue({ cluster }: { cluster: string }) {
  const trpc = useTRPC();
  const jobs = useQuery(trpc.jobs.list.queryOptions({ cluster }, { refetchInterval: 5_000 }));
  return (
    <QueryView query={jobs} what="the queue">
      {(view) => {
        const waiting = [...view.queued, ...view.running.filter((job) => job.state === "starting")];
        if (waiting.length === 0) return <p className="muted">Nothing is waiting or starting.</p>;
        return (
          <table className="table">
            <thead>
              <tr>
                <th>Position</th>
                <th>Model</th>
                <th>State</th>
                <th>ETA</th>
                <th>Why</th>
              </tr>
            </thead>
            <tbody>
              {waiting.map((job) => (
                <tr key={job.job_id}>
                  <td data-label="Position">{job.queue_position ?? "—"}</td>
                  <td data-label="Model">{job.models.join(", ")}</td>
                  <td data-label="State">
                    <StatusBadge status={job.state} />
                  </td>
                  <td data-label="ETA">{etaCell(job.state, job.eta_seconds)}</td>
                  <td data-label="Why" className="muted small">
                    {job.reason ?? `since ${formatTime(job.start_time)}`}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        );
      }}
    </QueryView>
  );
}

function ClusterSection({ cluster, nodes }: { cluster: Cluster; nodes: NodeView[] }) {
  return (
    <section className="cluster" data-cluster={cluster.name}>
      <header className="cluster-header">
        <h2>{cluster.displayName}</h2>
        <StatusBadge status={cluster.status} title={cluster.reason ?? undefined} />
        <span className="muted">
          {cluster.gpusUsed}/{cluster.gpus} GPUs · {cluster.liveModels}/{cluster.models} models live ·{" "}
          {cluster.launcher}
        </span>
      </header>
      {cluster.reason && nodes.length > 0 && <p className="muted">{cluster.reason}</p>}
      {nodes.length === 0 ? (
        // One empty state: the cluster's own reason (a coming-soon cluster's) when it has one.
        <Empty>{cluster.reason ?? "This cluster has no nodes yet."}</Empty>
      ) : (
        <div className="node-grid">
          {nodes.map((node) => (
            <NodeCard key={node.name} node={node} />
          ))}
        </div>
      )}
      {cluster.status === "active" && (
        <>
          <h3>Queue</h3>
          <Queue cluster={cluster.name} />
        </>
      )}
    </section>
  );
}

export function OverviewPage({ admin }: { admin: boolean }) {
  const trpc = useTRPC();
  const clusters = useQuery(trpc.clusters.list.queryOptions());
  const nodes = useQuery(trpc.nodes.list.queryOptions({}));
  const live = useQuery(trpc.usage.live.queryOptions({ minutes: LIVE_MINUTES }, { refetchInterval: 10_000 }));
  return (
    <>
      <PageHeader title="Overview">
        <Link to="/models" className="button">
          {admin ? "Start or stop models" : "See all models"}
        </Link>
      </PageHeader>
      <QueryView query={clusters} what="clusters" empty="No clusters are configured.">
        {(list) => (
          <QueryView query={nodes} what="nodes">
            {(allNodes) => (
              <>
                {live.data && <Figures live={live.data} clusters={list} />}
                {list.map((cluster) => (
                  <ClusterSection
                    key={cluster.name}
                    cluster={cluster}
                    nodes={allNodes.filter((n) => n.cluster === cluster.name)}
                  />
                ))}
              </>
            )}
          </QueryView>
        )}
      </QueryView>
    </>
  );
}
