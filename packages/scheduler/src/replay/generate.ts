import type { ResolvedModel, TraceRequest } from "@switchyard/core";
import { Random } from "@switchyard/core";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** The knobs of the synthetic demand (docs/scheduler.md explains each). */
export interface GenerateOptions {
  seed: number;
  days: number;
  /** Midnight UTC of the first day (ms). */
  start: number;
  /** Users sending requests. */
  users: number;
  /** Interactive sessions a day, all users together. */
  sessionsPerDay: number;
  /** Popularity of the i-th model (1-based, seeded order) is proportional to 1 / i^zipf. */
  zipf: number;
  /**
   * How well the configured hot set matches demand: each model's place in the popularity order
   * is a uniform draw in [0, 1), less this for hot models (0: the hot set is a blind guess;
   * 1: the hot models are the most popular ones).
   */
  hotBias: number;
  /** Share of a user's sessions that go to one of their own few favourite models. */
  favouriteShare: number;
  /** Mean requests per session (geometric) and mean gap between them. */
  requestsPerSession: number;
  requestGapMs: number;
  /** Hour (UTC) of the busiest part of the day, and how much quieter the night is (0..1). */
  peakHour: number;
  nightLevel: number;
  /** Batches a day, each of `batchLines` lines (min and max) sent `batchLineGapMs` apart. */
  batchesPerDay: number;
  batchLines: [number, number];
  batchLineGapMs: number;
}

export const GENERATE_DEFAULTS: Omit<GenerateOptions, "seed" | "days" | "start"> = {
  users: 80,
  sessionsPerDay: 450,
  zipf: 1.1,
  hotBias: 0.5,
  favouriteShare: 0.7,
  requestsPerSession: 8,
  requestGapMs: 45_000,
  peakHour: 15,
  nightLevel: 0.15,
  batchesPerDay: 3,
  batchLines: [300, 1500],
  batchLineGapMs: 2_000,
};

/** Relative demand at a time of day: a smooth working-day peak over a quiet night. */
export function dailyCycle(t: number, peakHour: number, nightLevel: number): number {
  const hours = (t % DAY) / HOUR;
  const phase = ((hours - peakHour) / 24) * 2 * Math.PI;
  const wave = (1 + Math.cos(phase)) / 2;
  return nightLevel + (1 - nightLevel) * wave ** 2;
}

/**
 * A synthetic trace over the models: Zipf-like popularity (a seeded order, so the configured hot
 * set is a guess, as it is in life), a daily cycle, users who mostly return to a few favourite
 * models, bursty sessions (many requests to one model within minutes) and a few batches on
 * batch-capable models. The same options give the same trace.
 */
export function generateTrace(
  models: readonly ResolvedModel[],
  options: Partial<GenerateOptions> & { seed: number; days: number; start: number },
): TraceRequest[] {
  const o: GenerateOptions = { ...GENERATE_DEFAULTS, ...options };
  const rng = new Random(o.seed);
  const ranked = models
    .map((m) => ({ m, score: rng.next() - (m.placement === "hot" ? o.hotBias : 0) }))
    .sort((a, b) => a.score - b.score)
    .map(({ m }) => m);
  const popularity = ranked.map((_, i) => 1 / (i + 1) ** o.zipf);
  const users = Array.from({ length: o.users }, (_, i) => {
    const favourites = new Set<number>();
    const count = rng.int(1, 3);
    while (favourites.size < count) favourites.add(rng.weighted(popularity));
    // Some users are far busier than others.
    return {
      name: `user-${String(i + 1).padStart(3, "0")}`,
      favourites: [...favourites],
      activity: 1 / (i + 1) ** 0.8,
    };
  });
  const activity = users.map((u) => u.activity);
  const out: TraceRequest[] = [];
  const end = o.start + o.days * DAY;
  const peak = 1;
  // Session starts: a Poisson process thinned by the daily cycle (mean `sessionsPerDay` a day).
  const meanLevel = cycleMean(o.peakHour, o.nightLevel);
  const peakRate = o.sessionsPerDay / DAY / meanLevel;
  for (let t = o.start + rng.exponential(1 / peakRate); t < end; t += rng.exponential(1 / peakRate)) {
    if (rng.next() * peak > dailyCycle(t, o.peakHour, o.nightLevel)) continue;
    const user = users[rng.weighted(activity)];
    if (!user) continue;
    const modelIndex =
      rng.next() < o.favouriteShare
        ? (user.favourites[rng.int(0, user.favourites.length - 1)] ?? 0)
        : rng.weighted(popularity);
    const model = ranked[modelIndex];
    if (!model) continue;
    const requests = Math.max(1, Math.round(rng.exponential(o.requestsPerSession)));
    let at = t;
    for (let r = 0; r < requests && at < end; r++) {
      out.push(request(rng, at, model, user.name, "interactive"));
      at += rng.exponential(o.requestGapMs);
    }
  }
  const batchable = ranked
    .map((m, i) => ({ m, w: popularity[i] ?? 0 }))
    .filter(({ m }) => m.capabilities.includes("batch"));
  for (let day = 0; day < o.days; day++) {
    for (let b = 0; b < o.batchesPerDay; b++) {
      const pick = batchable[rng.weighted(batchable.map((x) => x.w))];
      if (!pick) break;
      const user = users[rng.weighted(activity)]?.name ?? "batch";
      const lines = rng.int(o.batchLines[0], o.batchLines[1]);
      let at = o.start + day * DAY + rng.next() * DAY;
      for (let l = 0; l < lines && at < end; l++) {
        out.push(request(rng, at, pick.m, user, "batch"));
        at += o.batchLineGapMs;
      }
    }
  }
  return out.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
}

function request(
  rng: Random,
  at: number,
  model: ResolvedModel,
  user: string,
  kind: TraceRequest["kind"],
): TraceRequest {
  const embedding = model.capabilities.includes("embedding");
  const promptTokens = rng.int(50, embedding ? 500 : 3000);
  const completionTokens = embedding ? 0 : rng.int(20, 800);
  return {
    at: new Date(Math.round(at)).toISOString(),
    model: model.id,
    cluster: model.cluster,
    user,
    kind,
    promptTokens,
    completionTokens,
  };
}

function cycleMean(peakHour: number, nightLevel: number): number {
  let sum = 0;
  for (let m = 0; m < 24 * 60; m++) sum += dailyCycle(m * MINUTE, peakHour, nightLevel);
  return sum / (24 * 60);
}
