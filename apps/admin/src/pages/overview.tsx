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
      {cluster.reason && <p className="muted">{cluster.reason}</p>}
      {nodes.length === 0 ? (
        <Empty>This cluster has no nodes yet.</Empty>
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
