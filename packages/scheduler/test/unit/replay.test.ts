import { defaultConfigInput, type SwitchyardConfig, type TraceRequest, validateConfig } from "@switchyard/core";
import { describe, expect, it } from "vitest";
import { currentPolicy, predictivePolicy, referencePolicy } from "../../src/policies";
import { generateTrace, replay } from "../../src/replay";

const MIN = 60_000;
const HOUR = 60 * MIN;
const T0 = Date.UTC(2026, 0, 5);

/** One hot node with `org/h`, one rotating node of 8 GPUs for `org/x` and `org/y` (10 min loads, 2 h lifetime). */
function config(): SwitchyardConfig {
  const result = validateConfig({
    defaults: { maxLifetime: "2h", idleTtl: "1h" },
    clusters: [
      {
        name: "lab",
        launcher: { type: "local" },
        nodes: [
          { name: "hot-1", gpus: 8, role: "hot" },
          { name: "rot-1", gpus: 8, role: "rotating" },
        ],
        frameworks: ["vllm"],
      },
    ],
    models: [
      { id: "org/h", placement: "hot", gpus: 2 },
      { id: "org/x", placement: "dynamic", gpus: 8 },
      { id: "org/y", placement: "dynamic", gpus: 8 },
    ].map((m) => ({
      ...m,
      cluster: "lab",
      framework: "vllm",
      capabilities: ["chat"],
      expectedLoadTime: "10m",
      engine: { type: "simulator" },
    })),
  });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.config;
}

function req(model: string, atMs: number, kind: TraceRequest["kind"] = "interactive"): TraceRequest {
  return {
    at: new Date(T0 + atMs).toISOString(),
    model,
    user: "u1",
    kind,
    promptTokens: 10,
    completionTokens: 10,
    durationMs: 1000,
  };
}

describe("replay", () => {
  it("a cold model makes its requests wait its load time; once live, requests find it", () => {
    const trace = [req("org/x", 0), req("org/x", MIN), req("org/x", 20 * MIN), req("org/h", 5 * MIN)];
    const r = replay(config(), trace, currentPolicy, { start: T0, end: T0 + HOUR });
    expect(r.requests).toBe(4);
    expect(r.waited).toBe(2);
    expect(r.foundLive).toBe(0.5);
    expect(r.maxWaitSeconds).toBe(600);
    expect(r.meanWaitSeconds).toBe(570);
    expect(r.loadsPerDay).toBe(24);
    // x holds 8 GPUs the whole hour (starting, then live), the hot model 2.
    expect(r.dynamicGpuHoursHeld).toBe(8);
    expect(r.gpuHoursHeld).toBe(10);
    // Idle: x from 15 min after its last request (20 min + 1 s) to the end, about 25 min of 8 GPUs.
    expect(r.dynamicGpuHoursIdle).toBe(3);
    expect(r.waitedByModel).toEqual({ "org/x": 2 });
  });

  it("reference keeps a model until its lifetime and makes the next one wait; current evicts the idle one", () => {
    const trace = [req("org/x", 0), req("org/y", 30 * MIN), req("org/x", 50 * MIN)];
    const reference = replay(config(), trace, referencePolicy, { start: T0, end: T0 + 3 * HOUR });
    // x is live at 10 min; y waits for its 2 h lifetime to end (2 h 10 min), then loads for 10 min.
    expect(reference.maxWaitSeconds).toBe(110 * 60);
    expect(reference.waited).toBe(2);
    expect(reference.evictionsPerDay).toBe(0);
    const current = replay(config(), trace, currentPolicy, { start: T0, end: T0 + 3 * HOUR });
    expect(current.evictionsPerDay).toBe(16); // x, then y: 2 evictions in 3 h
    // x, evicted at 30 min, is asked for again at 50 min; y is not asked for again.
    expect(current.evictionsNeededWithinHour).toBe(1);
    expect(current.waited).toBe(3);
    expect(current.maxWaitSeconds).toBe(600);
  });

  it("replays the built-in catalog's day through every policy, the same each time", () => {
    const parsed = validateConfig(defaultConfigInput());
    if (!parsed.ok) throw new Error("default config");
    const models = parsed.config.models.filter((m) => m.cluster === "sophia");
    const trace = generateTrace(models, { seed: 7, days: 1, start: T0 });
    expect(generateTrace(models, { seed: 7, days: 1, start: T0 })).toEqual(trace);
    for (const policy of [referencePolicy, currentPolicy, predictivePolicy()]) {
      const first = replay(parsed.config, trace, policy);
      expect(replay(parsed.config, trace, policy)).toEqual(first);
      expect(first.requests + first.batchLines).toBe(trace.length);
      expect(first.unknownModels).toBe(0);
      expect(first.days).toBe(1);
    }
  });
});

describe("generateTrace", () => {
  const parsed = validateConfig(defaultConfigInput());
  if (!parsed.ok) throw new Error("default config");
  const models = parsed.config.models.filter((m) => m.cluster === "sophia");

  it("follows the seed, a daily cycle, bursty sessions and a few batches on batch models", () => {
    const trace = generateTrace(models, { seed: 1, days: 2, start: T0 });
    expect(generateTrace(models, { seed: 2, days: 2, start: T0 })).not.toEqual(trace);
    const hourOf = (r: TraceRequest) => new Date(r.at).getUTCHours();
    const interactive = trace.filter((r) => r.kind === "interactive");
    const peak = interactive.filter((r) => hourOf(r) >= 13 && hourOf(r) < 17).length;
    const night = interactive.filter((r) => hourOf(r) >= 1 && hourOf(r) < 5).length;
    expect(peak).toBeGreaterThan(3 * night);
    // Sessions: most requests follow one to the same model by the same user within 5 minutes.
    const last = new Map<string, number>();
    let followUps = 0;
    for (const r of interactive) {
      const key = `${r.user}|${r.model}`;
      const t = Date.parse(r.at);
      if (t - (last.get(key) ?? Number.NEGATIVE_INFINITY) < 5 * MIN) followUps++;
      last.set(key, t);
    }
    expect(followUps / interactive.length).toBeGreaterThan(0.6);
    const batch = trace.filter((r) => r.kind === "batch");
    expect(batch.length).toBeGreaterThan(0);
    const batchModels = new Set(batch.map((r) => r.model));
    for (const id of batchModels) expect(models.find((m) => m.id === id)?.capabilities).toContain("batch");
    expect(
      trace.every((r) => r.at >= new Date(T0).toISOString() && r.at < new Date(T0 + 48 * HOUR).toISOString()),
    ).toBe(true);
  });
});
