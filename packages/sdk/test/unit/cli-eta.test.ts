import { Writable } from "node:stream";
import type { Job, JobsView, ModelObject } from "@switchyard/core";
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { renderJobs, renderModels } from "../../src/cli/commands/models";
import { CliContext } from "../../src/cli/context";
import { formatEta } from "../../src/cli/output";
import { Pace } from "../../src/pace";

/** A terminal that keeps what `sy models` writes to it. */
function terminal(): { stream: Writable & { isTTY: boolean; columns?: number }; text: () => string } {
  const chunks: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk, _encoding, done) {
        chunks.push(String(chunk));
        done();
      },
    }),
    { isTTY: true },
  );
  return { stream, text: () => chunks.join("") };
}

const model = (id: string, fields: Partial<ModelObject>): ModelObject => ({
  id,
  object: "model",
  created: 0,
  owned_by: "org",
  status: "queued",
  capabilities: ["chat"],
  cluster: "lab",
  framework: "vllm",
  max_model_len: null,
  aliases: [],
  placement: "dynamic",
  engine: "vllm",
  queue_position: 1,
  eta_seconds: null,
  status_reason: null,
  replicas: { live: 0, starting: 0, queued: 0, draining: 0, min: 0, max: 1 },
  ...fields,
});

/** Replica counts: `live` of at most `max`, plus any others. */
const replicas = (live: number, max: number, others: Partial<ModelObject["replicas"]> = {}) => ({
  live,
  starting: 0,
  queued: 0,
  draining: 0,
  min: 1,
  max,
  ...others,
});

/** The context of a `sy` command writing to `stream`, without colour. */
function context(stream: Writable & { isTTY: boolean }, env: Record<string, string> = {}): CliContext {
  return new CliContext(new Command(), { NO_COLOR: "1", HOME: "/nonexistent", ...env }, process.stdin, stream, stream);
}

describe("what sy models shows for a model's ETA", () => {
  it("says a queued model's ETA is unknown when the server cannot say, never ~0 s", () => {
    const out = terminal();
    const ctx = new CliContext(
      new Command(),
      { NO_COLOR: "1", HOME: "/nonexistent" },
      process.stdin,
      out.stream,
      out.stream,
    );
    renderModels(ctx, [
      model("org/waiting", { queue_position: 1, eta_seconds: null, status_reason: "waiting in Slurm: Resources" }),
      model("org/next", { queue_position: 2, eta_seconds: 95 }),
      model("org/tiny", { queue_position: 3, eta_seconds: 0.3 }),
      model("org/zero", { queue_position: 4, eta_seconds: 0 }),
      model("org/loading", { status: "starting", queue_position: null, eta_seconds: 12 }),
    ]);
    const rows = out.text().split("\n");
    expect(rows.find((r) => r.startsWith("org/waiting"))).toContain("Queued #1 (ETA unknown)");
    expect(rows.find((r) => r.startsWith("org/next"))).toContain("Queued #2 (~2 min)");
    // A queued model has yet to load: an ETA under a second is no ETA at all.
    expect(rows.find((r) => r.startsWith("org/tiny"))).toMatch(/ Queued #3 +chat/);
    expect(rows.find((r) => r.startsWith("org/zero"))).toMatch(/ Queued #4 +chat/);
    expect(rows.find((r) => r.startsWith("org/loading"))).toContain("Starting (~12 s)");
    expect(out.text()).not.toMatch(/~0 s|< 1 s/);
  });

  it("lists Live, Starting, Queued (by position), Offline, then by name, on a terminal and piped", () => {
    const list = [
      model("org/b-off", { status: "offline", queue_position: null }),
      model("org/q2", { queue_position: 2, eta_seconds: 60 }),
      model("org/z-live", { status: "live", queue_position: null }),
      model("org/q1", { queue_position: 1, eta_seconds: 30 }),
      model("org/start", { status: "starting", queue_position: null, eta_seconds: 5 }),
      model("org/a-live", { status: "live", queue_position: null }),
      model("org/a-off", { status: "offline", queue_position: null }),
    ];
    const order = ["org/a-live", "org/z-live", "org/start", "org/q1", "org/q2", "org/a-off", "org/b-off"];
    const out = terminal();
    renderModels(context(out.stream), list);
    const ids = out
      .text()
      .split("\n")
      .slice(1)
      .filter(Boolean)
      .map((r) => r.split(" ")[0]);
    expect(ids.slice(0, -1)).toEqual(order);
    const piped = terminal();
    piped.stream.isTTY = false;
    renderModels(context(piped.stream), list);
    expect(
      piped
        .text()
        .trim()
        .split("\n")
        .map((r) => r.split("\t")[0]),
    ).toEqual(order);
  });

  it("fits 80 and 150 columns: long cells cut with an ellipsis, no line wider than the terminal", () => {
    const reason = "waiting in Slurm: (Priority) behind 14 jobs of other users on partition gpu-long";
    const list = [
      model("meta-llama/Llama-3.3-70B-Instruct", {
        status: "live",
        capabilities: ["chat", "completions", "tools", "batch", "reasoning"],
        aliases: ["llama-70b", "llama3-70b"],
        max_model_len: 131072,
        engine: "simulator",
      }),
      model("org/waiting", { queue_position: 1, eta_seconds: null, status_reason: reason, engine: "simulator" }),
    ];
    for (const columns of [80, 150]) {
      const out = terminal();
      out.stream.columns = columns;
      renderModels(context(out.stream), list);
      const lines = out.text().trimEnd().split("\n");
      for (const line of lines) expect([line, line.length <= columns]).toEqual([line, true]);
      expect(lines.at(-1)).toBe("engine: simulator (every model listed)");
      expect(out.text().match(/simulator/g)).toHaveLength(1);
      expect(lines.find((l) => l.includes("Queued"))).toContain("Queued #1 (ETA unknown)"); // the status is never cut
      if (columns === 80) expect(out.text()).toContain("…");
    }
    // COLUMNS wins over the terminal's own width (as for ls); without either, nothing is cut.
    const narrow = terminal();
    narrow.stream.columns = 150;
    renderModels(context(narrow.stream, { COLUMNS: "80" }), list);
    expect(
      Math.max(
        ...narrow
          .text()
          .split("\n")
          .map((l) => l.length),
      ),
    ).toBeLessThanOrEqual(80);
    const unknown = terminal();
    renderModels(context(unknown.stream), list);
    expect(unknown.text()).toContain(reason);
  });

  it("shows REPLICAS (live of at most) only when a model may have more than one, fitting 80 and 150 columns", () => {
    const reason = "waiting in Slurm: (Priority) behind 14 jobs of other users on partition gpu-long";
    const list = [
      model("meta-llama/Llama-3.3-70B-Instruct", {
        status: "live",
        capabilities: ["chat", "completions", "tools", "batch", "reasoning"],
        aliases: ["llama-70b", "llama3-70b"],
        max_model_len: 131072,
        replicas: replicas(2, 4, { starting: 1 }),
      }),
      model("org/single", { status: "live", queue_position: null, replicas: replicas(1, 1) }),
      // One allowed, but two running while the one no longer wanted drains.
      model("org/shrunk", { status: "live", queue_position: null, replicas: replicas(1, 1, { draining: 1 }) }),
      model("org/waiting", { queue_position: 1, eta_seconds: null, status_reason: reason }),
    ];
    // 150 columns: a column of their own; a model with one allowed and one running shows none.
    const wide = terminal();
    wide.stream.columns = 150;
    renderModels(context(wide.stream), list);
    const rows = wide.text().trimEnd().split("\n");
    for (const line of rows) expect([line, line.length <= 150]).toEqual([line, true]);
    expect(rows[0]).toMatch(/^MODEL\s+STATUS\s+REPLICAS\s+CAPABILITIES/);
    expect(rows.find((l) => l.startsWith("meta-llama/"))).toMatch(
      /^meta-llama\/Llama-3.3-70B-Instruct\s+Live\s+2\/4\s+chat/,
    );
    expect(rows.find((l) => l.startsWith("org/single"))).toMatch(/^org\/single\s+Live\s+-\s+chat/);
    expect(rows.find((l) => l.startsWith("org/shrunk"))).toMatch(/^org\/shrunk\s+Live\s+1\/1\s+chat/);
    expect(rows.find((l) => l.startsWith("org/waiting"))).toMatch(/Queued #1 \(ETA unknown\)\s+-\s/);
    // 80 columns: no room for the column once the others gave way, so after a live model's status, never cut.
    const narrow = terminal();
    narrow.stream.columns = 80;
    renderModels(context(narrow.stream), list);
    const lines = narrow.text().trimEnd().split("\n");
    for (const line of lines) expect([line, line.length <= 80]).toEqual([line, true]);
    expect(lines[0]).toMatch(/^MODEL\s+STATUS\s+CAPABILITIES/);
    expect(lines.find((l) => l.includes("Live 2/4"))).toBeDefined();
    expect(lines.find((l) => l.startsWith("org/single"))).toMatch(/^org\/single\s+Live\s+chat/);
    expect(lines.find((l) => l.startsWith("org/shrunk"))).toMatch(/^org\/shrunk\s+Live 1\/1\s+chat/);
    expect(lines.find((l) => l.includes("Queued"))).toContain("Queued #1 (ETA unknown)");
    expect(narrow.text()).toContain("…");
    // Without notes 80 columns leave room for the column.
    const short = terminal();
    short.stream.columns = 80;
    renderModels(context(short.stream), [list[1]!, model("org/wide", { status: "live", replicas: replicas(3, 8) })]);
    expect(short.text()).toMatch(/^MODEL\s+STATUS\s+REPLICAS\s+CAPABILITIES/);
    expect(short.text()).toMatch(/\norg\/wide\s+Live\s+3\/8\s+chat/);
    // Every model with at most one replica: no column for it.
    const plain = terminal();
    plain.stream.columns = 150;
    renderModels(context(plain.stream), [model("org/single", { status: "live", replicas: replicas(1, 1) })]);
    expect(plain.text()).not.toContain("REPLICAS");
    // A server from before replicas sends none: no column either.
    const { replicas: _, ...old } = model("org/old", { status: "live" });
    const older = terminal();
    renderModels(context(older.stream), [old as ModelObject]);
    expect(older.text()).toMatch(/^MODEL\s+STATUS\s+CAPABILITIES/);
  });

  it("formats ETAs: unknown for null, under a second, then rounded durations", () => {
    expect([null, undefined, 0, 0.4, 1.8, 59, 600].map(formatEta)).toEqual([
      "unknown",
      "unknown",
      "< 1 s",
      "< 1 s",
      "~2 s",
      "~59 s",
      "~10 min",
    ]);
  });
});

describe("what sy jobs shows for replicas", () => {
  const job = (id: string, model: string, replica: number, max: number | null): Job => ({
    job_id: id,
    models: [model],
    framework: "vllm",
    state: "live",
    model_status: "live",
    node: "rot-1",
    host: null,
    gpus: 1,
    launcher: "local",
    launcher_job_id: null,
    start_time: "2026-01-01T00:00:00.000Z",
    live_since: "2026-01-01T00:00:10.000Z",
    reason: null,
    in_flight: 0,
    replica,
    max_replicas: max,
  });
  const view = (running: Job[]): JobsView => ({
    cluster: "lab",
    status: "active",
    status_reason: null,
    running,
    queued: [],
    others: [],
    free_nodes: [],
    nodes: [],
  });

  it("adds a REPLICA column (which of how many) only when some model may have more than one", () => {
    const out = terminal();
    renderJobs(
      context(out.stream),
      view([job("dep_a", "org/wide", 1, 4), job("dep_b", "org/wide", 2, 4), job("dep_c", "org/one", 1, 1)]),
    );
    const lines = out.text().split("\n");
    expect(lines[1]).toMatch(/^JOB\s+MODEL\s+REPLICA\s+STATE/);
    expect(lines.find((l) => l.startsWith("dep_b"))).toMatch(/^dep_b\s+org\/wide\s+2\/4\s+live/);
    expect(lines.find((l) => l.startsWith("dep_c"))).toMatch(/^dep_c\s+org\/one\s+1\/1\s+live/);
    const single = terminal();
    renderJobs(context(single.stream), view([job("dep_c", "org/one", 1, 1)]));
    expect(single.text()).not.toContain("REPLICA");
  });
});

/** Polls of a batch every `every` s: nothing done while the model loads for `startup` s, then `perSecond` lines a second. */
function polls(options: { startup: number; perSecond: number; total: number; every: number; until: number }) {
  const seen: { at: number; done: number }[] = [];
  for (let t = 0; t <= options.until; t += options.every) {
    const done = Math.min(options.total, Math.max(0, Math.floor((t - options.startup) * options.perSecond)));
    seen.push({ at: t * 1000, done });
  }
  return seen;
}

describe("the batch progress bar's rate and ETA", () => {
  it("counts from the first answer: a model's 50 s start does not make the ETA several times too long", () => {
    // 600 lines at 10 a second once the model answers: 60 s of work after a 50 s start.
    const pace = new Pace();
    const seen = polls({ startup: 50, perSecond: 10, total: 600, every: 2, until: 56 });
    for (const { at, done } of seen) pace.add(done, at);
    const last = seen.at(-1) as { at: number; done: number };
    expect(last.done).toBe(60);
    const truth = (600 - last.done) / 10; // 54 s
    expect(pace.rate).toBeCloseTo(10, 5);
    expect(pace.eta(600 - last.done)).toBeCloseTo(truth, 5);
  });

  it("has no rate or ETA before the first answer, nor until half a second after it", () => {
    const pace = new Pace();
    for (let t = 0; t <= 40_000; t += 2000) pace.add(0, t);
    expect([pace.rate, pace.eta(100)]).toEqual([null, null]);
    pace.add(5, 42_000);
    expect(pace.eta(95)).toBeNull();
    pace.add(6, 42_400);
    expect(pace.eta(94)).toBeNull();
    pace.add(15, 43_000);
    expect(pace.rate).toBeCloseTo(10, 5);
    expect(pace.eta(85)).toBeCloseTo(8.5, 5);
  });

  it("follows a pace that changes: the last half minute counts, not the whole run", () => {
    const pace = new Pace();
    // 100 s at 2 lines a second, then 30 s at 8 a second.
    for (let t = 1; t <= 100; t++) pace.add(2 * t, t * 1000);
    for (let t = 101; t <= 130; t++) pace.add(200 + 8 * (t - 100), t * 1000);
    expect(pace.rate).toBeCloseTo(8, 5);
  });

  it("starts afresh when the count goes down, and says 0 s left once nothing remains", () => {
    const pace = new Pace();
    pace.add(50, 0);
    pace.add(100, 5000);
    pace.add(3, 6000);
    expect(pace.rate).toBeNull();
    pace.add(13, 7000);
    expect(pace.rate).toBeCloseTo(10, 5);
    expect(pace.eta(0)).toBe(0);
  });
});
