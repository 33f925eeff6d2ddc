/** `2026-11-25T08:00:00.000Z` -> `25 Nov, 08:00` in the viewer's time zone. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  return new Date(iso).toLocaleString(undefined, {
    day: "numeric",
    month: "short",
    hour: "2-digit",
    minute: "2-digit",
  });
}

/** How long ago, in words a person reads at a glance. */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "never";
  const seconds = Math.round((now - new Date(iso).getTime()) / 1000);
  if (seconds < 45) return "just now";
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86_400)} d ago`;
}

/** Seconds until something, as `45 s`, `3 min`, `1 h 5 min`. */
export function eta(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/**
 * When a queued or starting model should be live, for a sentence: `ready in about 45 s`, or
 * `ready time unknown` for a queued one whose wait the server cannot know (`eta_seconds: null`:
 * Slurm's queue, busy deployments); "" in any other state.
 */
export function readyIn(state: string, seconds: number | null | undefined): string {
  if (state !== "queued" && state !== "starting") return "";
  if (seconds === null || seconds === undefined) return state === "queued" ? "ready time unknown" : "";
  return `ready in about ${eta(seconds)}`;
}

/** A queue table's ETA cell: `45 s`, `unknown` for a queued job the server cannot say for, else `—`. */
export function etaCell(state: string, seconds: number | null | undefined): string {
  if (seconds !== null && seconds !== undefined) return eta(seconds);
  return state === "queued" ? "unknown" : "—";
}

export function count(value: number): string {
  if (value >= 1e9) return `${(value / 1e9).toFixed(1)}B`;
  if (value >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
  if (value >= 1e4) return `${(value / 1e3).toFixed(1)}k`;
  return value.toLocaleString();
}

/** A detail's key in words: `expiresAt` -> "expires at", `user_code` -> "user code". */
function fieldLabel(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/[_-]+/g, " ")
    .toLowerCase();
}

function fieldValue(value: unknown): string {
  if (value === null || value === undefined || value === "") return "—";
  if (Array.isArray(value)) return value.length === 0 ? "none" : value.map(fieldValue).join(", ");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/**
 * An audit entry's details as label/value fields: nested objects become dotted labels
 * ("limits.tokens"), lists are joined, empty values show a dash.
 */
export function detailFields(details: Record<string, unknown> | null, prefix = ""): [string, string][] {
  if (!details) return [];
  const fields: [string, string][] = [];
  for (const [key, value] of Object.entries(details)) {
    const label = prefix ? `${prefix}.${fieldLabel(key)}` : fieldLabel(key);
    if (value !== null && typeof value === "object" && !Array.isArray(value) && prefix.split(".").length < 3) {
      fields.push(...detailFields(value as Record<string, unknown>, label));
    } else {
      fields.push([label, fieldValue(value)]);
    }
  }
  return fields;
}

/** A value of a CSV cell: text, a number, or nothing (an empty cell). */
export type CsvValue = string | number | null | undefined;

/**
 * One CSV cell (RFC 4180): quoted when it holds a comma, a quote, a line break or edge spaces,
 * quotes doubled. Text starting with `=`, `+`, `-`, `@` or a tab gets a leading `'` so that a
 * spreadsheet shows it instead of running it as a formula; numbers are written as they are.
 */
function csvCell(value: CsvValue): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "";
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replaceAll('"', '""')}"` : text;
}

/** A table as CSV: a header row, then one line per row, CRLF line ends (what spreadsheets expect). */
export function toCsv(header: string[], rows: CsvValue[][]): string {
  return `${[header, ...rows].map((row) => row.map(csvCell).join(",")).join("\r\n")}\r\n`;
}

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

export type Bucket = "minute" | "5min" | "15min" | "hour" | "day";
export const BUCKET_MS: Record<Bucket, number> = {
  minute: MINUTE_MS,
  "5min": 5 * MINUTE_MS,
  "15min": 15 * MINUTE_MS,
  hour: HOUR_MS,
  day: DAY_MS,
};
/** A bucket in words, for "Requests per ...". */
export const BUCKET_WORDS: Record<Bucket, string> = {
  minute: "minute",
  "5min": "5 minutes",
  "15min": "15 minutes",
  hour: "hour",
  day: "day",
};

/**
 * The bucket a window is drawn in, so a chart has tens to a couple of hundred bars: minutes up
 * to 3 h (1 h: 60 bars), 5 minutes up to 12 h, 15 minutes up to 2 days (24 h: 96), hours up to
 * 14 days (7 d: 168), days beyond.
 */
export function bucketFor(spanMs: number): Bucket {
  if (spanMs <= 3 * HOUR_MS) return "minute";
  if (spanMs <= 12 * HOUR_MS) return "5min";
  if (spanMs <= 2 * DAY_MS) return "15min";
  if (spanMs <= 14 * DAY_MS) return "hour";
  return "day";
}

const TICK_STEPS = [
  MINUTE_MS,
  5 * MINUTE_MS,
  10 * MINUTE_MS,
  15 * MINUTE_MS,
  30 * MINUTE_MS,
  HOUR_MS,
  2 * HOUR_MS,
  3 * HOUR_MS,
  6 * HOUR_MS,
  12 * HOUR_MS,
  DAY_MS,
  2 * DAY_MS,
  7 * DAY_MS,
  14 * DAY_MS,
  30 * DAY_MS,
];

/** How far ahead of UTC the viewer's clock is at `at`, in ms. */
const localOffset = (at: number) => -new Date(at).getTimezoneOffset() * MINUTE_MS;

/**
 * The time axis's labelled ticks: the bucket starts that fall on round local times (every 10
 * minutes, 3 hours, midnight...), the smallest round step that gives at most `max` labels.
 * Both usage charts take the same list, so their axes match tick for tick.
 */
export function timeTicks(starts: number[], bucket: Bucket, max = 6): { ticks: number[]; step: number } {
  const first = starts[0];
  const last = starts.at(-1);
  if (first === undefined || last === undefined) return { ticks: [], step: BUCKET_MS[bucket] };
  const span = last - first + BUCKET_MS[bucket];
  const step = TICK_STEPS.find((s) => s >= BUCKET_MS[bucket] && span / s <= max) ?? TICK_STEPS[TICK_STEPS.length - 1]!;
  const aligned = starts.filter((at) => (at + localOffset(at)) % step === 0);
  if (aligned.length >= 2) return { ticks: aligned, step };
  // No round times among the buckets (day buckets start at UTC midnight): every k-th bucket.
  const every = Math.max(1, Math.ceil(starts.length / max));
  return { ticks: starts.filter((_, i) => i % every === 0), step: every * BUCKET_MS[bucket] };
}

/** A tick's label: a time of day for steps under a day, a date otherwise. */
export function tickLabel(at: number, step: number): string {
  const date = new Date(at);
  return step < DAY_MS
    ? date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleDateString(undefined, { day: "numeric", month: "short" });
}

/** A `datetime-local` input's value (local time, to the minute) for a moment. */
export function toLocalInput(at: number): string {
  const local = new Date(at + localOffset(at));
  return local.toISOString().slice(0, 16);
}
