import type { AppRouter } from "@switchyard/api";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { useState } from "react";
import {
  Capabilities,
  ConfirmButton,
  FilterChips,
  Notice,
  PageHeader,
  QueryView,
  STATUS_FILTERS,
  StatusBadge,
  type StatusFilter,
} from "../components/ui";
import { formatTime, readyIn } from "../format";
import { errorMessage, useTRPC } from "../trpc";
import "./models.css";

type Model = inferRouterOutputs<AppRouter>["models"]["list"][number];
type Filter = StatusFilter;

function statusDetail(model: Model): string {
  if (model.status === "queued")
    return `#${model.queuePosition ?? "?"} in queue, ${readyIn("queued", model.etaSeconds)}`;
  if (model.status === "starting" && model.etaSeconds !== null) return readyIn("starting", model.etaSeconds);
  return model.reason ?? "";
}

/** `2/4 replicas`: live of the most the model may have; what starts or waits besides, in the tooltip. */
function Replicas({ model }: { model: Model }) {
  const { live, starting, queued, draining, min, max } = model.replicas;
  const others = [
    starting ? `${starting} starting` : "",
    queued ? `${queued} queued` : "",
    draining ? `${draining} draining` : "",
  ].filter(Boolean);
  return (
    <span
      className="replicas"
      data-replicas={`${live}/${max}`}
      title={`${live} live of at most ${max} (at least ${min} kept)${others.length ? `; ${others.join(", ")}` : ""}`}
    >
      {live}/{max} replica{max === 1 ? "" : "s"}
      {starting + queued > 0 ? ` (+${starting + queued} coming)` : ""}
    </span>
  );
}

function History({ model }: { model: Model }) {
  const trpc = useTRPC();
  const history = useQuery(trpc.models.history.queryOptions({ cluster: model.cluster, model: model.id, limit: 50 }));
  return (
    <QueryView query={history} what="its history" empty="No transitions yet: this model has never been started.">
      {(transitions) => (
        <ol className="history">
          {transitions.map((t) => (
            <li key={`${t.deploymentId}-${t.at}-${t.to}`}>
              <time dateTime={t.at}>{formatTime(t.at)}</time>
              <StatusBadge status={t.from} /> → <StatusBadge status={t.to} />
              <span className="cause">{t.cause}</span>
              <code className="muted small">{t.deploymentId}</code>
            </li>
          ))}
        </ol>
      )}
    </QueryView>
  );
}

function Actions({ model, onDone }: { model: Model; onDone: (message: string, ok: boolean) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const ref = { cluster: model.cluster, model: model.id };
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.models.list.queryKey() });
  const options = (verb: string) => ({
    onSuccess: () => {
      onDone(`${verb}: ${model.id}`, true);
      return refresh();
    },
    onError: (error: unknown) => onDone(errorMessage(error), false),
  });
  const start = useMutation(
    trpc.deployments.start.mutationOptions({
      ...options("Starting"),
      // Without free GPUs the model waits in the queue: say so, not "Starting".
      onSuccess: (result) => {
        onDone(`${result.status === "queued" ? "Queued" : "Starting"}: ${model.id}`, true);
        return refresh();
      },
    }),
  );
  const stop = useMutation(trpc.deployments.stop.mutationOptions(options("Stopping")));
  const restart = useMutation(trpc.deployments.restart.mutationOptions(options("Restarting")));
  const pin = useMutation(trpc.deployments.pin.mutationOptions(options("Pinned")));
  const unpin = useMutation(trpc.deployments.unpin.mutationOptions(options("Unpinned")));
  const drain = useMutation(trpc.deployments.drain.mutationOptions(options("Draining")));
  const busy = [start, stop, restart, pin, unpin, drain].some((m) => m.isPending);
  const { status } = model;
  // Only what the state allows: a queued model has nothing to drain or restart (stopping it
  // takes it out of the queue); a starting one serves nothing yet, so it is stopped, not drained.
  const can = {
    start: status === "offline",
    cancel: status === "queued",
    stop: status === "starting" || status === "live",
    restart: status === "live",
    drain: status === "live" && model.deploymentId !== null,
  };
  return (
    <div className="actions actions-line" data-testid="model-actions">
      {can.start && (
        <button type="button" className="button button-primary" disabled={busy} onClick={() => start.mutate(ref)}>
          Start
        </button>
      )}
      {can.cancel && (
        <ConfirmButton disabled={busy} confirmLabel="Confirm cancel" onConfirm={() => stop.mutate(ref)}>
          Cancel
        </ConfirmButton>
      )}
      {can.stop && (
        <ConfirmButton disabled={busy} confirmLabel="Confirm stop" onConfirm={() => stop.mutate(ref)}>
          Stop
        </ConfirmButton>
      )}
      {can.restart && (
        <ConfirmButton
          className="button"
          disabled={busy}
          confirmLabel="Confirm restart"
          onConfirm={() => restart.mutate(ref)}
        >
          Restart
        </ConfirmButton>
      )}
      {can.drain && (
        <ConfirmButton
          className="button"
          disabled={busy}
          confirmLabel="Confirm drain"
          onConfirm={() => drain.mutate({ deploymentId: model.deploymentId as string })}
        >
          Drain
        </ConfirmButton>
      )}
      {model.pinned ? (
        <button type="button" className="button" disabled={busy} onClick={() => unpin.mutate(ref)}>
          Unpin
        </button>
      ) : (
        <button type="button" className="button" disabled={busy} onClick={() => pin.mutate(ref)}>
          Pin
        </button>
      )}
    </div>
  );
}

/** What B, T and R mean, on the page (the marks' tooltips are not seen on a phone, nor by everyone). */
function MarksLegend() {
  return (
    <p className="marks-legend small muted" data-testid="marks-legend">
      <span className="marks-legend-title">Capabilities:</span>
      {MARKS.map(([mark, meaning]) => (
        <span key={mark} className="marks-legend-item">
          <abbr className="mark on" title={meaning}>
            {mark}
          </abbr>{" "}
          {meaning}
        </span>
      ))}
      <span className="marks-legend-item">(a grey mark: the model does not)</span>
    </p>
  );
}

const MARKS = [
  ["B", "batch (the Batch API)"],
  ["T", "tool calling"],
  ["R", "reasoning"],
] as const;

export function ModelsPage({ admin }: { admin: boolean }) {
  const trpc = useTRPC();
  const [filter, setFilter] = useState<Filter>("all");
  const [search, setSearch] = useState("");
  const [open, setOpen] = useState<string | null>(null);
  const [message, setMessage] = useState<{ text: string; ok: boolean } | null>(null);
  // Every model, filtered here, so the filter buttons can show counts; refetched often while something moves.
  const models = useQuery(
    trpc.models.list.queryOptions(
      { status: "all" },
      {
        refetchInterval: (query) =>
          query.state.data?.some((m) => m.status === "starting" || m.status === "queued") ? 2_000 : 15_000,
      },
    ),
  );
  const counts = (list: Model[]) =>
    Object.fromEntries(
      STATUS_FILTERS.map((f) => [f.value, list.filter((m) => f.value === "all" || m.status === f.value).length]),
    );

  return (
    <>
      <PageHeader title="Models">
        <input
          type="search"
          className="search"
          placeholder="Search models"
          aria-label="Search models"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
        />
      </PageHeader>
      {message && <Notice kind={message.ok ? "ok" : "error"}>{message.text}</Notice>}
      <QueryView query={models} what="models" empty="No models are available to you.">
        {(list) => {
          const n = counts(list);
          const needle = search.trim().toLowerCase();
          const shown = list.filter(
            (m) =>
              (filter === "all" || m.status === filter) &&
              (!needle ||
                m.id.toLowerCase().includes(needle) ||
                m.aliases.some((a) => a.toLowerCase().includes(needle)) ||
                (m.family ?? "").toLowerCase().includes(needle)),
          );
          return (
            <>
              <FilterChips
                legend="Filter by status"
                options={STATUS_FILTERS}
                selected={filter}
                onSelect={setFilter}
                count={(value) => n[value] ?? 0}
              />
              <MarksLegend />
              {shown.length === 0 ? (
                <p className="state state-empty">No {filter === "all" ? "" : `${filter} `}models match.</p>
              ) : (
                <table className="table models">
                  <thead>
                    <tr>
                      <th>Model</th>
                      <th>Capabilities</th>
                      <th>Status</th>
                      <th>Where</th>
                      {admin && <th>Actions</th>}
                    </tr>
                  </thead>
                  <tbody>
                    {shown.map((model) => {
                      const key = `${model.cluster}/${model.id}`;
                      const expanded = open === key;
                      // On a phone a row is one line (name, status, replicas); a tap on the name
                      // unfolds the rest (capabilities, where, actions, transitions).
                      return [
                        <tr key={key} data-model={model.id} className={expanded ? "expanded" : undefined}>
                          <td data-label="Model" className="model-cell">
                            <button
                              type="button"
                              className="link model-toggle"
                              aria-expanded={expanded}
                              onClick={() => setOpen(expanded ? null : key)}
                              title={expanded ? "Hide the details" : "Show the details and transitions"}
                            >
                              {model.id}
                            </button>
                            {model.pinned && <span className="tag">pinned</span>}
                            <div className="muted small model-meta">
                              {model.family ?? model.framework} · {model.placement}
                              {model.contextLength ? ` · ${Math.round(model.contextLength / 1024)}k context` : ""}
                              {model.aliases.length > 0 ? ` · ${model.aliases.join(", ")}` : ""}
                            </div>
                          </td>
                          <td data-label="Capabilities" className="model-detail">
                            <Capabilities marks={model.marks} capabilities={model.capabilities} />
                          </td>
                          <td data-label="Status" className="status-cell">
                            <StatusBadge status={model.status} />
                            <span className="replicas-short muted small" title="live / most replicas">
                              {model.replicas.live}/{model.replicas.max}
                            </span>
                            <div className="muted small status-detail">{statusDetail(model)}</div>
                          </td>
                          <td data-label="Where" className="small model-detail">
                            {model.cluster}
                            {model.node ? ` / ${model.node}` : ""}
                            <div className="muted">
                              {model.gpus} GPU{model.gpus === 1 ? "" : "s"} · {model.engine} ·{" "}
                              <Replicas model={model} />
                            </div>
                          </td>
                          {admin && (
                            <td data-label="Actions" className="model-detail actions-cell">
                              <Actions model={model} onDone={(text, ok) => setMessage({ text, ok })} />
                            </td>
                          )}
                        </tr>,
                        expanded && (
                          <tr key={`${key}-history`} className="history-row">
                            <td colSpan={admin ? 5 : 4}>
                              <h3>Transitions of {model.id}</h3>
                              <History model={model} />
                            </td>
                          </tr>
                        ),
                      ];
                    })}
                  </tbody>
                </table>
              )}
            </>
          );
        }}
      </QueryView>
    </>
  );
}
