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
