/**
 * "Did you mean ...?": the names closest to what was typed, by edit distance (a swap of two
 * neighbours counts as one edit) or as a prefix, compared without case and also against the
 * part after the last `/` (`llama-8b` finds `meta/llama-8b`).
 */

/** Edits from `a` to `b`: insertions, deletions, substitutions and swaps of neighbours (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const row = d[i] as number[];
      const above = d[i - 1] as number[];
      let best = Math.min((above[j] as number) + 1, (row[j - 1] as number) + 1, (above[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, ((d[i - 2] as number[])[j - 2] as number) + 1);
      }
      row[j] = best;
    }
  }
  return (d[rows - 1] as number[])[cols - 1] as number;
}

const tail = (name: string) => name.slice(name.lastIndexOf("/") + 1);

/** How far `candidate` is from `typed` (lower is closer), or undefined when too far to suggest. */
function score(typed: string, candidate: string): number | undefined {
  const q = typed.toLowerCase();
  const c = candidate.toLowerCase();
  // The whole name matched counts a little more than its part after the `/`.
  const forms: [string, number][] = [
    [c, 0],
    [tail(c), 0.5],
  ];
  let best = Number.POSITIVE_INFINITY;
  for (const query of new Set([q, tail(q)])) {
    if (!query) continue;
    for (const [form, penalty] of forms) {
      best = Math.min(best, editDistance(query, form) + penalty);
      if (query.length >= 3 && form.startsWith(query)) best = Math.min(best, 1 + penalty);
    }
  }
  const allowed = Math.max(1, Math.floor(tail(q).length / 3));
  return best <= allowed ? best : undefined;
}

/**
 * The closest of `candidates` to `typed` (at most `limit`, closest first), none when nothing is
 * close. A candidate may be several names of one thing (a model's id, then its aliases): it is
 * suggested once, by the name that came closest (its first on a tie).
 */
export function closestNames(typed: string, candidates: Iterable<string | readonly string[]>, limit = 3): string[] {
  const scored = new Map<string, number>();
  for (const candidate of candidates) {
    const names = typeof candidate === "string" ? [candidate] : candidate;
    if (names.includes(typed)) continue;
    let best: { name: string; score: number } | undefined;
    for (const name of names) {
      const s = score(typed, name);
      if (s !== undefined && (best === undefined || s < best.score)) best = { name, score: s };
    }
    if (!best) continue;
    const known = scored.get(best.name);
    if (known === undefined || best.score < known) scored.set(best.name, best.score);
  }
  const ranked = [...scored].sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]));
  const top = ranked[0]?.[1];
  return ranked
    .filter(([, s]) => s === top)
    .slice(0, limit)
    .map(([name]) => name);
}

/** `a`, `a or b`, `a, b or c`. */
export function orList(names: string[]): string {
  return names.length <= 1 ? (names[0] ?? "") : `${names.slice(0, -1).join(", ")} or ${names.at(-1)}`;
}
