import { performance } from "node:perf_hooks";

interface Measured {
  suite: string;
  case: string;
  baseline: string;
  metric: string;
  unit: string;
  value: number;
  baselineValue: number;
  note?: string;
}

/**
 * One measured case next to its baseline, measured in the same run, compared in one of two
 * ways: `ratio` = value / baselineValue (throughput: 1.0 means as fast), or `difference` =
 * value - baselineValue in `unit` (latency: what the case adds).
 */
export type Row = Measured & ({ ratio: number; difference?: never } | { difference: number; ratio?: never });

/** What a suite may return besides its rows: raw data kept in its results file (`details`). */
export interface SuiteResult {
  rows: Row[];
  details: Record<string, unknown>;
}

export interface Suite {
  name: string;
  description: string;
  /** Runs only when named (`pnpm bench soak`), never in a bare `pnpm bench`: it takes minutes. */
  onlyWhenNamed?: boolean;
  run(): Promise<Row[] | SuiteResult>;
}

/** Operations per second of a synchronous function, after warm-up, over a fixed time budget. */
export function opsPerSecond(fn: () => void, budgetMs = 1500): number {
  for (let i = 0; i < 2000; i++) fn();
  let ops = 0;
  const start = performance.now();
  let now = start;
  while (now - start < budgetMs) {
    for (let i = 0; i < 500; i++) fn();
    ops += 500;
    now = performance.now();
  }
  return (ops * 1000) / (now - start);
}

export interface LatencyStats {
  requests: number;
  perSecond: number;
  p50: number;
  p99: number;
}

/** Run `total` async calls with `concurrency` in flight; latency percentiles in ms. */
export async function closedLoop(call: () => Promise<void>, total: number, concurrency: number): Promise<LatencyStats> {
  const latencies: number[] = [];
  let issued = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (issued < total) {
        issued++;
        const t0 = performance.now();
        await call();
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = performance.now() - start;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { requests: latencies.length, perSecond: (latencies.length * 1000) / elapsed, p50: at(0.5), p99: at(0.99) };
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
