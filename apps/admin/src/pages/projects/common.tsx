// What the project views share: a project's type and state badge, what is left of its budget,
// the budget and window fields of its forms (the create form and its settings), and its days.
import type { AppRouter } from "@switchyard/api";
import type { inferRouterOutputs } from "@trpc/server";

export type Project = inferRouterOutputs<AppRouter>["projects"]["list"][number];
export type Timeseries = inferRouterOutputs<AppRouter>["usage"]["timeseries"];
export type Message = { text: string; ok: boolean } | null;

const STATE_LABELS: Record<Project["state"], string> = {
  active: "Active",
  inactive: "Off",
  not_started: "Not started",
  ended: "Ended",
  exhausted: "Exhausted",
};

const STATE_TITLES: Record<Project["state"], string> = {
  active: "Batches can be charged to it now",
  inactive: "Switched off by an administrator",
  not_started: "Its window has not begun",
  ended: "Its window is over",
  exhausted: "Its whole token budget is spent",
};

export function ProjectState({ state }: { state: Project["state"] }) {
  return (
    <span className={`badge badge-project-${state}`} data-state={state} title={STATE_TITLES[state]}>
      {STATE_LABELS[state]}
    </span>
  );
}

export const remainingOf = (p: Project) => (p.tokenBudget === null ? null : Math.max(0, p.tokenBudget - p.spent));

/** An `<input type="date">` value as the start of that day in UTC, or null when empty. */
export const dayStart = (value: string) => (value ? `${value}T00:00:00.000Z` : null);
/** A timestamp as an `<input type="date">` value (its UTC day). */
export const dayOf = (iso: string | null) => (iso ? iso.slice(0, 10) : "");
/** A budget field: empty is unlimited. */
export const budgetOf = (value: string) => (value.trim() === "" ? null : Number(value));
export const day = (iso: string | null) =>
  iso ? new Date(iso).toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" }) : "—";

export type Field = [string, (value: string) => void];

/** The budget and validity window inputs, the same in the create form and a project's settings. */
export function BudgetFields({
  budget,
  validFrom,
  validUntil,
}: {
  budget: Field;
  validFrom: Field;
  validUntil: Field;
}) {
  return (
    <>
      <label>
        Token budget <span className="muted small">(empty: unlimited)</span>
        <input type="number" min={0} step={1} value={budget[0]} onChange={(e) => budget[1](e.target.value)} />
      </label>
      <label>
        Valid from <span className="muted small">(UTC day)</span>
        <input type="date" value={validFrom[0]} onChange={(e) => validFrom[1](e.target.value)} />
      </label>
      <label>
        Valid until <span className="muted small">(UTC day)</span>
        <input type="date" value={validUntil[0]} onChange={(e) => validUntil[1](e.target.value)} />
      </label>
    </>
  );
}
