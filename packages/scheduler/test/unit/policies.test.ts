import { type NodeConfig, type ResolvedModel, validateConfig } from "@switchyard/core";
import { describe, expect, it } from "vitest";
import { candidateNodes, type Occupant, placeModel } from "../../src/placement";
import {
  currentPolicy,
  DemandHistory,
  type LiveDynamic,
  planCheapestEviction,
  policyFor,
  predictivePolicy,
  referencePolicy,
  savedSecondsPerGpu,
} from "../../src/policies";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 0, 5);

function models(): ResolvedModel[] {
  const result = validateConfig({
    clusters: [
      {
        name: "lab",
        launcher: { type: "local" },
        nodes: [
          { name: "hot-1", gpus: 8, role: "hot" },
          { name: "rot-1", gpus: 8, role: "rotating" },
          { name: "rot-2", gpus: 8, role: "rotating" },
        ],
        frameworks: ["vllm"],
      },
    ],
    models: ["a", "b", "c", "big"].map((id) => ({
      id: `org/${id}`,
      cluster: "lab",
      framework: "vllm",
      capabilities: ["chat"],
      placement: "dynamic",
      gpus: id === "big" ? 8 : 4,
      expectedLoadTime: id === "big" ? "15m" : "5m",
      engine: { type: "simulator" },
    })),
  });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.config.models;
}

const nodes: NodeConfig[] = [
  { name: "rot-1", gpus: 8, role: "rotating" },
  { name: "rot-2", gpus: 8, role: "rotating" },
];

function live(model: ResolvedModel, over: Partial<LiveDynamic> = {}): LiveDynamic {
  return { key: `lab/${model.id}`, model, liveAt: T0, lastUsed: T0, inFlight: 0, ...over };
}

function occupant(id: string, node: string, lastUsed: number, over: Partial<Occupant> = {}): Occupant {
  return {
    deploymentId: id,
    node,
    gpus: 4,
    evictable: true,
    lastUsed,
    modelKey: `lab/org/${id}`,
    loadSeconds: 300,
    ...over,
  };
}

describe("DemandHistory", () => {
  it("counts sessions, not requests: a burst within the session gap is one", () => {
    const h = new DemandHistory({ sessionGapMs: 10 * MIN });
    for (let i = 0; i < 20; i++) h.record("m", T0 + i * 30_000);
    h.record("other", T0);
    const burst = h.expectedSessions("m", T0 + 5 * HOUR, HOUR);
    h.record("m", T0 + 2 * HOUR);
    // Two sessions now (the later one has faded less): about twice what the one burst was.
    const two = h.expectedSessions("m", T0 + 5 * HOUR, HOUR);
    expect(two / burst).toBeGreaterThan(1.9);
    expect(two / burst).toBeLessThan(2.2);
    expect(h.inSession("m", T0 + 2 * HOUR + 5 * MIN)).toBe(true);
    expect(h.inSession("m", T0 + 2 * HOUR + 11 * MIN)).toBe(false);
    expect(h.probability("m", T0 + 2 * HOUR + 5 * MIN, HOUR)).toBe(1);
    expect(h.expectedSessions("never", T0 + HOUR, HOUR)).toBe(0);
  });

  it("learns the hours of the day a model is asked for, once those hours were seen", () => {
    const h = new DemandHistory();
    // Asked for every day at 14:00-15:00, for three days; another model keeps the clock going.
    for (let day = 0; day < 3; day++) {
      for (let s = 0; s < 4; s++) h.record("afternoon", T0 + day * DAY + 14 * HOUR + s * 15 * MIN);
      h.record("clock", T0 + day * DAY);
    }
    const morning = h.expectedSessions("afternoon", T0 + 3 * DAY + 9 * HOUR, HOUR);
    const afternoon = h.expectedSessions("afternoon", T0 + 3 * DAY + 14 * HOUR, HOUR);
    expect(afternoon).toBeGreaterThan(3);
    expect(afternoon).toBeGreaterThan(2 * morning);
  });
});

describe("current policy (today's behaviour)", () => {
  const [a] = models() as [ResolvedModel];
  const ctx = (now: number) => ({ now, demand: new DemandHistory() });

  it("drains at the idle TTL with nothing in flight, and at the maximum lifetime even in use", () => {
    expect(currentPolicy.drainReason(live(a, { lastUsed: T0 }), ctx(T0 + 2 * HOUR - 1))).toBeUndefined();
    expect(currentPolicy.drainReason(live(a), ctx(T0 + 2 * HOUR))).toBe("idle for 2h");
    expect(currentPolicy.drainReason(live(a, { inFlight: 1 }), ctx(T0 + 2 * HOUR))).toBeUndefined();
    expect(currentPolicy.drainReason(live(a, { inFlight: 3, lastUsed: T0 + DAY }), ctx(T0 + DAY))).toBe(
      "maximum lifetime of 1d reached",
    );
  });

  it("evicts the least recently used idle deployment", () => {
    const [, , , big] = models() as [ResolvedModel, ResolvedModel, ResolvedModel, ResolvedModel];
    const occupants = [
      occupant("a", "rot-1", T0 + 10),
      occupant("b", "rot-1", T0 + 20),
      occupant("c", "rot-2", T0 + 5),
      occupant("d", "rot-2", T0 + 30),
    ];
    const plan = currentPolicy.planEviction(big, nodes, occupants, ctx(T0 + HOUR), { key: "lab/org/big", since: T0 });
    expect(plan?.node.name).toBe("rot-1");
    expect(plan?.evict.map((o) => o.deploymentId)).toEqual(["a", "b"]);
    expect(plan?.cause).toBe("least recently used");
  });

  it("is the policy of the default config and of the name", () => {
    expect(policyFor("current")).toBe(currentPolicy);
    expect(policyFor("reference")).toBe(referencePolicy);
    expect(policyFor("predictive").name).toBe("predictive");
  });
});

describe("reference policy", () => {
  const [a, , , big] = models() as [ResolvedModel, ResolvedModel, ResolvedModel, ResolvedModel];
  const ctx = (now: number) => ({ now, demand: new DemandHistory() });

  it("keeps an idle model until its maximum lifetime, and never evicts", () => {
    expect(referencePolicy.drainReason(live(a), ctx(T0 + 23 * HOUR))).toBeUndefined();
    expect(referencePolicy.drainReason(live(a), ctx(T0 + DAY))).toBe("maximum lifetime of 1d reached");
    const occupants = [occupant("a", "rot-1", T0), occupant("b", "rot-1", T0)];
    expect(
      referencePolicy.planEviction(big, nodes.slice(0, 1), occupants, ctx(T0 + HOUR), { key: "k", since: T0 }),
    ).toBeUndefined();
  });
});

describe("predictive policy", () => {
  const [a, b, c, big] = models() as [ResolvedModel, ResolvedModel, ResolvedModel, ResolvedModel];

  /** `a` is asked for every half hour all day; `b` once, early. */
  function history(): DemandHistory {
    const h = new DemandHistory();
    h.record("lab/org/b", T0);
    for (let t = T0; t < T0 + 8 * HOUR; t += 30 * MIN) h.record("lab/org/a", t);
    return h;
  }

  it("evicts the model least likely to be asked for again, not the least recently used", () => {
    const demand = history();
    const now = T0 + 8 * HOUR;
    // `b` was used more recently than `a`, yet it is the one to go: `a` is asked for all day.
    const occupants = [occupant("a", "rot-1", now - 40 * MIN), occupant("b", "rot-1", now - 20 * MIN)];
    const lru = currentPolicy.planEviction(
      c,
      nodes.slice(0, 1),
      occupants,
      { now, demand },
      { key: "lab/org/c", since: now },
    );
    expect(lru?.evict.map((o) => o.deploymentId)).toEqual(["a"]);
    const plan = predictivePolicy().planEviction(
      c,
      nodes.slice(0, 1),
      occupants,
      { now, demand },
      { key: "lab/org/c", since: now },
    );
    expect(plan?.evict.map((o) => o.deploymentId)).toEqual(["b"]);
    expect(plan?.cause).toBe("least likely to be needed soon");
  });

  it("never evicts a model whose session is under way when an idle one will do, and spares victims it does not need", () => {
    const demand = history();
    const now = T0 + 8 * HOUR;
    demand.record("lab/org/c", now - 2 * MIN);
    const occupants = [
      occupant("c", "rot-1", now - 2 * MIN, { gpus: 4 }),
      occupant("b", "rot-1", now - 3 * HOUR, { gpus: 4 }),
      occupant("a", "rot-2", now - 3 * HOUR, { gpus: 8 }),
    ];
    // Room for 4 GPUs: `b` (idle, asked for once) goes, not `c` (in session) nor `a` (popular).
    const plan = planCheapestEviction(a, nodes, occupants, { now, demand }, HOUR);
    expect(plan?.evict.map((o) => o.deploymentId)).toEqual(["b"]);
    // Cheapest first takes `b` (2 GPUs) and then needs `c` (6): `c` alone is enough, `b` is spared.
    const tight = [
      occupant("b", "rot-1", now - 3 * HOUR, { gpus: 2 }),
      occupant("c", "rot-1", now - 2 * MIN, { gpus: 6 }),
    ];
    const six = { ...a, gpus: 6 };
    expect(
      planCheapestEviction(six, nodes.slice(0, 1), tight, { now, demand }, HOUR)?.evict.map((o) => o.deploymentId),
    ).toEqual(["c"]);
  });

  it("with a queue wait set, a rarely used model waits rather than push out a popular one, then evicts", () => {
    const demand = history();
    const now = T0 + 8 * HOUR;
    const policy = predictivePolicy({ maxQueueWaitMs: 30 * MIN });
    demand.record("lab/org/c", now);
    const occupants = [occupant("a", "rot-1", now - 20 * MIN, { gpus: 8 })];
    const queued = { key: "lab/org/c", since: now };
    expect(policy.planEviction(c, nodes.slice(0, 1), occupants, { now, demand }, queued)).toBeUndefined();
    const later = now + 30 * MIN;
    expect(policy.planEviction(c, nodes.slice(0, 1), occupants, { now: later, demand }, queued)?.evict).toHaveLength(1);
  });

  it("keeps an idle model that is likely to be asked for, drains one that is not", () => {
    const demand = history();
    const now = T0 + 8 * HOUR;
    const policy = predictivePolicy();
    expect(policy.drainReason(live(a, { lastUsed: now - 30 * MIN }), { now, demand })).toBeUndefined();
    expect(policy.drainReason(live(b, { lastUsed: now - 10 * MIN }), { now, demand })).toBeUndefined(); // not idle long enough
    expect(policy.drainReason(live(b, { lastUsed: now - 3 * HOUR }), { now, demand })).toMatch(
      /^idle for 3h and unlikely to be asked for within 1h \(\d+ %, on 4 GPUs\)$/,
    );
    expect(policy.drainReason(live(a, { liveAt: now - DAY }), { now, demand })).toBe("maximum lifetime of 1d reached");
  });

  it("weighs the chance of a request against the GPUs a model holds idle", () => {
    const demand = history();
    const now = T0 + 8 * HOUR;
    const policy = predictivePolicy();
    // `b` was asked for once, eight hours ago (about a 10 % chance within the hour): on 4 GPUs
    // that saves too little wait per GPU to keep; the same model on 1 GPU is worth keeping.
    const p = demand.probability("lab/org/b", now, HOUR);
    expect(p).toBeGreaterThan(0.05);
    expect(p).toBeLessThan(0.15);
    const idle = { lastUsed: now - 3 * HOUR };
    expect(policy.drainReason(live(b, idle), { now, demand })).toMatch(/on 4 GPUs\)$/);
    expect(policy.drainReason(live({ ...b, gpus: 1 }, idle), { now, demand })).toBeUndefined();
    expect(savedSecondsPerGpu({ ...b, gpus: 1 }, p)).toBeCloseTo(p * 300);
    // A stricter threshold lets the small one go too.
    expect(
      predictivePolicy({ keepSecondsPerGpu: 60 }).drainReason(live({ ...b, gpus: 1 }, idle), { now, demand }),
    ).toMatch(/on 1 GPU\)$/);
  });

  it("starts ahead of demand only what is likely to be asked for and worth its GPUs, the dearest to wait for first", () => {
    const demand = new DemandHistory();
    for (let day = 0; day < 2; day++) {
      for (let s = 0; s < 3; s++) {
        demand.record("lab/org/a", T0 + day * DAY + 9 * HOUR + s * 20 * MIN);
        demand.record("lab/org/big", T0 + day * DAY + 9 * HOUR + s * 20 * MIN);
      }
      demand.record("lab/org/b", T0 + day * DAY + 20 * HOUR);
    }
    const candidates = [a, b, big].map((m) => ({ key: `lab/${m.id}`, model: m }));
    const atNine = { now: T0 + 2 * DAY + 9 * HOUR, demand };
    const anyCost = predictivePolicy({ prewarmSecondsPerGpu: 0 });
    expect(anyCost.prewarm?.(candidates, atNine).map((c) => c.model.id)).toEqual(["org/big", "org/a"]);
    expect(anyCost.prewarm?.(candidates, { now: T0 + 2 * DAY + 3 * HOUR, demand })).toEqual([]);
    // By default a start ahead of demand must save 100 s of waiting per GPU: `big` (15 min to
    // load, 8 GPUs) does, `a` (5 min, 4 GPUs) at the same chance does not.
    expect(
      predictivePolicy()
        .prewarm?.(candidates, atNine)
        .map((c) => c.model.id),
    ).toEqual(["org/big"]);
  });
});

describe("adaptive policy (predictive over pooled nodes)", () => {
  const [a, , , big] = models() as [ResolvedModel, ResolvedModel, ResolvedModel, ResolvedModel];
  const all: NodeConfig[] = [{ name: "hot-1", gpus: 8, role: "hot" }, ...nodes];

  it("lets a dynamic model use a hot node, rotating nodes first", () => {
    expect(candidateNodes(a, all).map((n) => n.name)).toEqual(["rot-1", "rot-2"]);
    expect(candidateNodes(a, all, true).map((n) => n.name)).toEqual(["rot-1", "rot-2", "hot-1"]);
    const full = [
      occupant("x", "rot-1", T0, { gpus: 8, evictable: false }),
      occupant("y", "rot-2", T0, { gpus: 8, evictable: false }),
    ];
    expect(placeModel(a, all, full)).toBeUndefined();
    expect(placeModel(a, all, full, true)?.name).toBe("hot-1");
  });

  it("evicts an idle hot model only when it is asked for less than its prior says, and names itself", () => {
    const demand = new DemandHistory();
    const now = T0 + 8 * HOUR;
    demand.record("lab/org/z", T0);
    for (let t = T0; t < now; t += 20 * MIN) demand.record("lab/org/big", t);
    const policy = policyFor("adaptive");
    expect(policy.name).toBe("adaptive");
    expect(policy.poolsNodes).toBe(true);
    const hot = occupant("h", "hot-1", now - HOUR, { gpus: 8, hot: true, modelKey: "lab/org/h" });
    const rotating = [
      occupant("y", "rot-1", now - HOUR, { gpus: 8 }),
      occupant("z", "rot-2", now - HOUR, { gpus: 8, modelKey: "lab/org/z" }),
    ];
    // `z` (asked for once) goes before the hot model, whose prior counts though nobody asked for it yet.
    const queued = { key: "lab/org/big", since: now };
    expect(
      policy
        .planEviction(
          big,
          all,
          [hot, { ...(rotating[0] as Occupant), evictable: false }, rotating[1] as Occupant],
          { now, demand },
          queued,
        )
        ?.evict.map((o) => o.deploymentId),
    ).toEqual(["z"]);
    // With only the hot model idle, it is the one to go.
    const busy = rotating.map((o) => ({ ...o, evictable: false }));
    expect(
      policy.planEviction(big, all, [hot, ...busy], { now, demand }, queued)?.evict.map((o) => o.deploymentId),
    ).toEqual(["h"]);
    expect(predictivePolicy().planEviction(big, all, [hot, ...busy], { now, demand }, queued)).toBeUndefined();
  });
});
