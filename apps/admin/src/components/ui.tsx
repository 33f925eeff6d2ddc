import type { UseQueryResult } from "@tanstack/react-query";
import { type ReactNode, useEffect, useState } from "react";
import { errorMessage } from "../trpc";

const STATE_LABELS: Record<string, string> = {
  live: "Live",
  starting: "Starting",
  queued: "Queued",
  offline: "Offline",
  draining: "Draining",
  failed: "Failed",
  active: "Active",
  maintenance: "Maintenance",
  coming_soon: "Coming soon",
};

/** A status or state in words ("Live", "Coming soon"). */
export function statusLabel(status: string): string {
  return STATE_LABELS[status] ?? status;
}

/** A model's status or a deployment's state, as a coloured badge (the dashboard's live element). */
export function StatusBadge({ status, title }: { status: string; title?: string | undefined }) {
  return (
    <span className={`badge badge-${status}`} data-status={status} title={title}>
      {statusLabel(status)}
    </span>
  );
}

/** A model's user-facing status, or all of them: the filter the models page and the playground share. */
export type StatusFilter = "all" | "live" | "starting" | "queued" | "offline";

export const STATUS_FILTERS: { value: StatusFilter; label: string }[] = [
  { value: "live", label: "Live" },
  { value: "starting", label: "Starting" },
  { value: "queued", label: "Queued" },
  { value: "offline", label: "Offline" },
  { value: "all", label: "All" },
];

/** A row of toggle chips, one per filter, each with how many items it would show. */
export function FilterChips<V extends string>({
  legend,
  options,
  selected,
  onSelect,
  count,
}: {
  legend: string;
  options: readonly { value: V; label: string }[];
  selected: V;
  onSelect: (value: V) => void;
  count: (value: V) => number;
}) {
  return (
    <fieldset className="filters">
      <legend className="visually-hidden">{legend}</legend>
      {options.map((f) => (
        <button
          key={f.value}
          type="button"
          className={`chip${selected === f.value ? " selected" : ""}`}
          aria-pressed={selected === f.value}
          onClick={() => onSelect(f.value)}
        >
          {f.label} <span className="count">{count(f.value)}</span>
        </button>
      ))}
    </fieldset>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <div className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> Loading {what}…
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="state state-empty">{children}</div>;
}

export function ErrorState({ error, retry }: { error: unknown; retry?: () => void }) {
  return (
    <div className="state state-error" role="alert">
      <p>{errorMessage(error)}</p>
      {retry && (
        <button type="button" className="button" onClick={retry}>
          Retry
        </button>
      )}
    </div>
  );
}

/** Loading, error (with retry) and empty states for a query, in one place for every page. */
export function QueryView<T, E>({
  query,
  what,
  empty,
  isEmpty,
  children,
}: {
  query: UseQueryResult<T, E>;
  what: string;
  empty?: ReactNode;
  isEmpty?: (data: T) => boolean;
  children: (data: T) => ReactNode;
}) {
  if (query.isPending) return <Loading what={what} />;
  if (query.isError) return <ErrorState error={query.error} retry={() => void query.refetch()} />;
  const data = query.data;
  const blank = isEmpty ? isEmpty(data) : Array.isArray(data) && data.length === 0;
  if (blank && empty !== undefined) return <Empty>{empty}</Empty>;
  return <>{children(data)}</>;
}

/** A button that asks once more before doing something that cannot be undone. */
export function ConfirmButton({
  children,
  confirmLabel,
  onConfirm,
  disabled,
  className = "button button-danger",
}: {
  children: ReactNode;
  confirmLabel: string;
  onConfirm: () => void;
  disabled?: boolean;
  className?: string;
}) {
  const [armed, setArmed] = useState(false);
  useEffect(() => {
    if (!armed) return;
    const timer = setTimeout(() => setArmed(false), 4000);
    return () => clearTimeout(timer);
  }, [armed]);
  return (
    <button
      type="button"
      className={`${className}${armed ? " armed" : ""}`}
      disabled={disabled}
      onClick={() => {
        if (armed) {
          setArmed(false);
          onConfirm();
        } else {
          setArmed(true);
        }
      }}
    >
      {armed ? confirmLabel : children}
    </button>
  );
}

export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="page-header">
      <h1>{title}</h1>
      {children && <div className="page-actions">{children}</div>}
    </div>
  );
}

export function Notice({ kind, children }: { kind: "ok" | "error" | "info"; children: ReactNode }) {
  return (
    <div className={`notice notice-${kind}`} role={kind === "error" ? "alert" : "status"}>
      {children}
    </div>
  );
}

const MARK_TITLES: Record<string, string> = { B: "batch", T: "tool calling", R: "reasoning" };

/** The reference service's capability marks (B, T, R), plus vision and embedding tags. */
export function Capabilities({ marks, capabilities }: { marks: string; capabilities: string[] }) {
  return (
    <span className="caps">
      {["B", "T", "R"].map((mark) => (
        <abbr
          key={mark}
          className={`mark${marks.includes(mark) ? " on" : ""}`}
          title={`${MARK_TITLES[mark]}: ${marks.includes(mark) ? "yes" : "no"}`}
        >
          {mark}
        </abbr>
      ))}
      {capabilities.includes("vision") && <span className="tag">vision</span>}
      {capabilities.includes("embedding") && <span className="tag">embedding</span>}
    </span>
  );
}

export function AdminOnly() {
  return <Empty>This page is for administrators. Ask an admin if you need something changed here.</Empty>;
}
