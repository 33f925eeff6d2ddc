import { type FormEvent, useState } from "react";
import { DAY_MS, HOUR_MS, toLocalInput } from "../format";

/** A time range as Grafana offers it: the last hour, day or week, or fixed ends. */
export type RangeKey = "1h" | "24h" | "7d" | "custom";
export type Range = { key: Exclude<RangeKey, "custom"> } | { key: "custom"; from: number; to: number };

export const RELATIVE: Record<Exclude<RangeKey, "custom">, { label: string; ms: number }> = {
  "1h": { label: "1 h", ms: HOUR_MS },
  "24h": { label: "24 h", ms: DAY_MS },
  "7d": { label: "7 d", ms: 7 * DAY_MS },
};

/** The longest custom range (the server draws at most 400 days of days). */
const MAX_CUSTOM_MS = 400 * DAY_MS;

/** The range's length in ms. */
export function rangeSpan(range: Range): number {
  return range.key === "custom" ? range.to - range.from : RELATIVE[range.key].ms;
}

/** A range in words: "last 24 h", "5 Dec 10:00 – 6 Dec 10:00". */
export function rangeWords(range: Range): string {
  if (range.key !== "custom") return `last ${RELATIVE[range.key].label}`;
  const at = (ms: number) =>
    new Date(ms).toLocaleString(undefined, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  return `${at(range.from)} – ${at(range.to)}`;
}

/**
 * The range buttons (1 h, 24 h, 7 d, Custom); Custom opens From/To fields (local time) that
 * apply on Apply. `anyTime` adds a first button for no range at all (the request log).
 */
export function RangePicker({
  range,
  onChange,
  anyTime,
}: {
  range: Range | null;
  onChange: (range: Range | null) => void;
  anyTime?: boolean;
}) {
  const [editing, setEditing] = useState(range?.key === "custom");
  const now = Date.now();
  const [from, setFrom] = useState(toLocalInput(range?.key === "custom" ? range.from : now - DAY_MS));
  const [to, setTo] = useState(toLocalInput(range?.key === "custom" ? range.to : now));
  const [problem, setProblem] = useState<string | null>(null);
  const selected: RangeKey | "any" = editing ? "custom" : (range?.key ?? "any");
  const options: { value: RangeKey | "any"; label: string }[] = [
    ...(anyTime ? [{ value: "any" as const, label: "Any time" }] : []),
    ...Object.entries(RELATIVE).map(([value, r]) => ({ value: value as RangeKey, label: r.label })),
    { value: "custom", label: "Custom" },
  ];
  const apply = (event: FormEvent) => {
    event.preventDefault();
    const start = new Date(from).getTime();
    const end = new Date(to).getTime();
    if (Number.isNaN(start) || Number.isNaN(end)) return setProblem("Enter both ends.");
    if (start >= end) return setProblem("From must be before To.");
    if (end - start > MAX_CUSTOM_MS) return setProblem("A range spans at most 400 days.");
    setProblem(null);
    onChange({ key: "custom", from: start, to: end });
  };
  return (
    <div className="range-picker">
      <fieldset className="filters segmented">
        <legend className="visually-hidden">Time range</legend>
        {options.map((o) => (
          <button
            key={o.value}
            type="button"
            className={`chip${selected === o.value ? " selected" : ""}`}
            aria-pressed={selected === o.value}
            onClick={() => {
              if (o.value === "custom") return setEditing(true);
              setEditing(false);
              setProblem(null);
              onChange(o.value === "any" ? null : { key: o.value });
            }}
          >
            {o.label}
          </button>
        ))}
      </fieldset>
      {editing && (
        <form className="custom-range" onSubmit={apply}>
          <label>
            From <input type="datetime-local" value={from} onChange={(e) => setFrom(e.target.value)} required />
          </label>
          <label>
            To <input type="datetime-local" value={to} onChange={(e) => setTo(e.target.value)} required />
          </label>
          <button type="submit" className="button">
            Apply
          </button>
          {problem && (
            <span className="range-problem" role="alert">
              {problem}
            </span>
          )}
        </form>
      )}
    </div>
  );
}

export const REFRESH_OPTIONS = [
  { value: 0, label: "Off" },
  { value: 10_000, label: "10 s" },
  { value: 30_000, label: "30 s" },
  { value: 60_000, label: "1 min" },
] as const;

/** Auto-refresh, as Grafana's: off, or every 10 s, 30 s or a minute. */
export function RefreshPicker({ value, onChange }: { value: number; onChange: (ms: number) => void }) {
  return (
    <label className="refresh-picker">
      Auto-refresh{" "}
      <select aria-label="Auto-refresh" value={value} onChange={(e) => onChange(Number(e.target.value))}>
        {REFRESH_OPTIONS.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </label>
  );
}

/**
 * A range and auto-refresh from a page's query (`?range=1h&refresh=30s`, or
 * `?from=<ms>&to=<ms>` for a custom one), so a link or a reload shows the same view.
 */
export function rangeFromQuery(search: URLSearchParams, fallback: Range): Range {
  const key = search.get("range");
  if (key === "1h" || key === "24h" || key === "7d") return { key };
  const from = Number(search.get("from"));
  const to = Number(search.get("to"));
  if (Number.isFinite(from) && Number.isFinite(to) && from > 0 && from < to && to - from <= MAX_CUSTOM_MS) {
    return { key: "custom", from, to };
  }
  return fallback;
}

export function refreshFromQuery(search: URLSearchParams): number {
  const label = search.get("refresh");
  return REFRESH_OPTIONS.find((o) => o.value !== 0 && queryLabel(o.value) === label)?.value ?? 0;
}

/** `10s`, `30s`, `1m`. */
const queryLabel = (ms: number) => (ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`);

/** The query that `rangeFromQuery` and `refreshFromQuery` read back. */
export function rangeQuery(range: Range, refreshMs: number): URLSearchParams {
  const query = new URLSearchParams();
  if (range.key === "custom") {
    query.set("from", String(range.from));
    query.set("to", String(range.to));
  } else {
    query.set("range", range.key);
  }
  if (refreshMs) query.set("refresh", queryLabel(refreshMs));
  return query;
}
