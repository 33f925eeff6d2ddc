import type { AppRouter } from "@switchyard/api";
import { Pace } from "@switchyard/sdk";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { useRef, useState } from "react";
import { ConfirmButton, FilterChips, Notice, PageHeader, QueryView } from "../components/ui";
import { count, eta, formatTime } from "../format";
import { download } from "../http";
import { errorMessage, useTRPC } from "../trpc";
import { BatchUpload } from "./batch-upload";
import "./batches.css";

type Batch = inferRouterOutputs<AppRouter>["batches"]["list"][number];
type Filter = "active" | "completed" | "failed" | "cancelled" | "all";

const ACTIVE = new Set(["validating", "in_progress", "finalizing", "cancelling"]);
const CANCELLABLE = new Set(["validating", "in_progress"]);

const FILTERS: { value: Filter; label: string; matches: (b: Batch) => boolean }[] = [
  { value: "active", label: "Running", matches: (b) => ACTIVE.has(b.status) },
  { value: "completed", label: "Completed", matches: (b) => b.status === "completed" },
  { value: "failed", label: "Failed", matches: (b) => b.status === "failed" || b.status === "expired" },
  { value: "cancelled", label: "Cancelled", matches: (b) => b.status === "cancelled" },
  { value: "all", label: "All", matches: () => true },
];

const STATUS_LABELS: Record<string, string> = {
  validating: "Validating",
  in_progress: "Running",
  finalizing: "Finalizing",
  completed: "Completed",
  failed: "Failed",
  expired: "Expired",
  cancelling: "Cancelling",
  cancelled: "Cancelled",
};

const isoOf = (seconds: number | null) => (seconds === null ? null : new Date(seconds * 1000).toISOString());

const doneOf = (b: Batch) => b.request_counts.completed + b.request_counts.failed;

/** Lines per second as a person reads it: `0.4`, `3.2`, `48`. */
function formatRate(rate: number): string {
  return rate >= 10 ? String(Math.round(rate)) : rate.toFixed(1);
}

/** When the batch ended (completed, failed, expired or cancelled), epoch seconds; null while it runs. */
function endedAt(b: Batch): number | null {
  return b.completed_at ?? b.failed_at ?? b.expired_at ?? b.cancelled_at ?? null;
}

/**
 * Why a batch failed, in a line: its first error (the file's check names the line), or the
 * status when the server said nothing more.
 */
function failureReason(b: Batch): string {
  const first = b.errors?.data[0];
  if (!first) return b.status === "expired" ? "its completion window ran out" : "no reason recorded";
  return `${first.line !== null ? `line ${first.line}: ` : ""}${first.message}`;
}

/**
 * One Pace per batch, fed each time the list is fetched (so counted from the first answer the
 * page saw, as `sy batch wait` counts: the model's loading says nothing of the pace after).
 */
function usePaces(list: Batch[] | undefined, fetchedAt: number): Map<string, Pace> {
  const paces = useRef(new Map<string, Pace>());
  const fed = useRef(0);
  if (list && fetchedAt !== fed.current) {
    fed.current = fetchedAt;
    for (const b of list) {
      if (b.status !== "in_progress") continue;
      let pace = paces.current.get(b.id);
      if (!pace) {
        pace = new Pace();
        paces.current.set(b.id, pace);
      }
      pace.add(doneOf(b), fetchedAt);
    }
  }
  return paces.current;
}

/** Rate and time left while a batch runs; how long it took, and its mean rate, once it has ended. */
function Timing({ batch, pace }: { batch: Batch; pace: Pace | undefined }) {
  const done = doneOf(batch);
  const { total } = batch.request_counts;
  const ended = endedAt(batch);
  if (ended !== null) {
    const ran = batch.in_progress_at !== null ? ended - batch.in_progress_at : null;
    return (
      <span className="batch-timing muted small" data-testid="batch-timing">
        <span data-testid="batch-duration">took {eta(Math.max(1, ended - batch.created_at))}</span>
        {ran !== null && ran > 0 && done > 0 && (
          <span data-testid="batch-rate"> · {formatRate(done / ran)} lines/s</span>
        )}
      </span>
    );
  }
  if (batch.status === "validating") return <span className="batch-timing muted small">checking the file</span>;
  if (batch.status === "finalizing") return <span className="batch-timing muted small">writing the output</span>;
  if (batch.status === "cancelling") return <span className="batch-timing muted small">cancelling</span>;
  if (done === 0)
    return (
      <span className="batch-timing muted small" data-testid="batch-timing">
        waiting for the first answer (the model may be loading)
      </span>
    );
  const rate = pace?.rate ?? null;
  if (rate === null)
    return (
      <span className="batch-timing muted small" data-testid="batch-timing">
        measuring the rate…
      </span>
    );
  const left = rate > 0 ? pace?.eta(Math.max(0, total - done)) : null;
  return (
    <span className="batch-timing small" data-testid="batch-timing">
      <span data-testid="batch-rate">{formatRate(rate)} lines/s</span>
      {" · "}
      <span data-testid="batch-eta">
        {left === null || left === undefined ? "no answer lately" : `about ${eta(Math.max(1, left))} left`}
      </span>
    </span>
  );
}

/** Whether the Actions cell has anything in it (a phone card shows no empty "Actions" label). */
function hasActions(b: Batch): boolean {
  if (CANCELLABLE.has(b.status)) return true;
  if (b.api === "reference") return Boolean(b.resultsFile || (b.request_counts.failed > 0 && b.errorsFile));
  return b.output_file_id !== null || b.error_file_id !== null;
}

/** The model a batch calls; for a failed one whose file was never read, why it failed instead. */
function ModelLine({ batch }: { batch: Batch }) {
  const failed = batch.status === "failed" || batch.status === "expired";
  const model = batch.model ? (
    <span data-testid="batch-model">{batch.model}</span>
  ) : failed ? (
    <span className="batch-failure" data-testid="batch-failure">
      failed before its model was read: {failureReason(batch)}
    </span>
  ) : (
    <span>{batch.status === "validating" ? "model not known yet (checking the file)" : "no model"}</span>
  );
  return (
    <div className="muted small">
      {model} · {batch.endpoint}
      {batch.api === "reference" ? " · reference API" : ""}
      {failed && batch.model && (
        <div className="batch-failure" data-testid="batch-failure">
          {failureReason(batch)}
        </div>
      )}
    </div>
  );
}

function BatchStatus({ status }: { status: string }) {
  return (
    <span className={`badge badge-batch-${status}`} data-status={status}>
      {STATUS_LABELS[status] ?? status}
    </span>
  );
}

/** Completed and failed lines as one bar (green, then red) over the batch's total. */
function Progress({ batch, pace }: { batch: Batch; pace: Pace | undefined }) {
  const { total, completed, failed } = batch.request_counts;
  const done = completed + failed;
  const pct = (n: number) => (total > 0 ? `${Math.min(100, (n / total) * 100)}%` : "0%");
  return (
    <div className="batch-progress">
      <div
        className="progress"
        role="progressbar"
        aria-label={`${batch.id} progress`}
        aria-valuemin={0}
        aria-valuemax={total}
        aria-valuenow={done}
      >
        <span className="progress-ok" style={{ width: pct(completed) }} />
        <span className="progress-failed" style={{ width: pct(failed) }} />
      </div>
      <span className="small" data-testid="batch-counts">
        {count(done)} / {total > 0 ? count(total) : "?"}
        {failed > 0 && <span className="failed-count"> · {count(failed)} failed</span>}
      </span>
      <Timing batch={batch} pace={pace} />
    </div>
  );
}

function Downloads({
  batch,
  readable,
  onError,
}: {
  batch: Batch;
  readable: boolean;
  onError: (message: string) => void;
}) {
  const [busy, setBusy] = useState<string | null>(null);
  if (batch.api === "reference") {
    // Reference-API batches write to shared storage, where their owner reads them.
    return (
      <div className="small batch-files">
        {batch.resultsFile && <code title="results file">{batch.resultsFile}</code>}
        {batch.request_counts.failed > 0 && batch.errorsFile && <code title="errors file">{batch.errorsFile}</code>}
      </div>
    );
  }
  const files = [
    { id: batch.output_file_id, label: "Results", name: `${batch.id}_output.jsonl` },
    { id: batch.error_file_id, label: "Errors", name: `${batch.id}_errors.jsonl` },
  ].filter((f): f is { id: string; label: string; name: string } => f.id !== null);
  if (files.length === 0) return null;
  // The files API serves a batch's files to its owner and to admins, nobody else.
  if (!readable)
    return <span className="muted small">files: {files.map((f) => f.label.toLowerCase()).join(", ")}</span>;
  return (
    <>
      {files.map((f) => (
        <button
          key={f.id}
          type="button"
          className="button"
          disabled={busy !== null}
          onClick={() => {
            setBusy(f.id);
            download(`/v1/files/${encodeURIComponent(f.id)}/content`, f.name)
              .catch((e: unknown) => onError(`Could not download ${f.label.toLowerCase()}: ${errorMessage(e)}`))
              .finally(() => setBusy(null));
          }}
        >
          {busy === f.id ? "Downloading…" : `Download ${f.label.toLowerCase()}`}
        </button>
      ))}
    </>
  );
}

export function BatchesPage({ admin }: { admin: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const me = useQuery(trpc.session.me.queryOptions());
  const [filter, setFilter] = useState<Filter>("all");
  const [owner, setOwner] = useState("");
  const [message, setMessage] = useState<{ text: string; ok: boolean } | null>(null);
  // Progress moves quickly while a batch runs: poll every 1.5 s then, slowly otherwise.
  const batches = useQuery(
    trpc.batches.list.queryOptions(
      { limit: 200 },
      { refetchInterval: (query) => (query.state.data?.some((b) => ACTIVE.has(b.status)) ? 1_500 : 15_000) },
    ),
  );
  const cancel = useMutation(
    trpc.batches.cancel.mutationOptions({
      onSuccess: (batch) => {
        setMessage({ text: `Cancelling ${batch.id}: answers already received are kept.`, ok: true });
        return queryClient.invalidateQueries({ queryKey: trpc.batches.list.queryKey() });
      },
      onError: (e) => setMessage({ text: errorMessage(e), ok: false }),
    }),
  );
  const paces = usePaces(batches.data, batches.dataUpdatedAt);

  return (
    <>
      <PageHeader title="Batches">
        {admin && (
          <input
            type="search"
            className="search"
            placeholder="Filter by owner"
            aria-label="Filter by owner"
            value={owner}
            onChange={(e) => setOwner(e.target.value)}
          />
        )}
      </PageHeader>
      <p className="muted">
        {admin ? "Everyone's batches" : "Your batches"}, newest first. Create one with the form below, or send them with
        the OpenAI Files + Batches API (<code>POST /v1/files</code>, then <code>POST /v1/batches</code>) or the
        reference API (<code>POST /resource_server/v1/batches</code>).
      </p>
      {message && <Notice kind={message.ok ? "ok" : "error"}>{message.text}</Notice>}
      <BatchUpload onCreated={(text) => setMessage({ text, ok: true })} />
      <QueryView
        query={batches}
        what="batches"
        empty="No batches yet. Create one with the form above, or send one through the API: it appears here with its progress."
      >
        {(list) => {
          const needle = owner.trim().toLowerCase();
          const mine = list.filter((b) => !needle || b.owner.toLowerCase().includes(needle));
          const shown = mine.filter((b) => FILTERS.find((f) => f.value === filter)?.matches(b));
          return (
            <>
              <FilterChips
                legend="Filter by status"
                options={FILTERS}
                selected={filter}
                onSelect={setFilter}
                count={(value) => mine.filter((b) => FILTERS.find((f) => f.value === value)?.matches(b)).length}
              />
              {shown.length === 0 ? (
                <p className="state state-empty">No {filter === "all" ? "" : `${filter} `}batches match.</p>
              ) : (
                <table className="table batches">
                  <thead>
                    <tr>
                      <th>Batch</th>
                      {admin && <th>Owner</th>}
                      <th>Status</th>
                      <th>Progress</th>
                      <th>Created</th>
                      <th>Actions</th>
                    </tr>
                  </thead>
                  <tbody>
                    {shown.map((batch) => (
                      <tr key={batch.id} data-batch={batch.id}>
                        <td data-label="Batch">
                          <code className="batch-id">{batch.id}</code>
                          <ModelLine batch={batch} />
                          {batch.errors && batch.errors.data.length > 0 && (
                            <details className="small batch-errors">
                              <summary>
                                {batch.errors.data.length} {batch.errors.data.length === 1 ? "problem" : "problems"}
                              </summary>
                              <ul>
                                {batch.errors.data.slice(0, 5).map((e) => (
                                  <li key={`${e.line}-${e.code}`}>
                                    {e.line !== null ? `line ${e.line}: ` : ""}
                                    {e.message}
                                  </li>
                                ))}
                              </ul>
                            </details>
                          )}
                        </td>
                        {admin && <td data-label="Owner">{batch.owner}</td>}
                        <td data-label="Status">
                          <BatchStatus status={batch.status} />
                        </td>
                        <td data-label="Progress">
                          <Progress batch={batch} pace={paces.get(batch.id)} />
                        </td>
                        <td data-label="Created" className="small">
                          {formatTime(isoOf(batch.created_at))}
                        </td>
                        {/* No label over an empty cell on a phone card. */}
                        <td
                          data-label={hasActions(batch) ? "Actions" : undefined}
                          className={hasActions(batch) ? undefined : "empty-cell"}
                        >
                          <div className="actions">
                            {CANCELLABLE.has(batch.status) && (
                              <ConfirmButton
                                confirmLabel="Confirm cancel"
                                disabled={cancel.isPending}
                                onConfirm={() => cancel.mutate({ id: batch.id })}
                              >
                                Cancel
                              </ConfirmButton>
                            )}
                            <Downloads
                              batch={batch}
                              readable={admin || batch.owner === me.data?.username}
                              onError={(text) => setMessage({ text, ok: false })}
                            />
                          </div>
                        </td>
                      </tr>
                    ))}
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
