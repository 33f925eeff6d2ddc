import { validateConfig } from "@switchyard/core";
import { describe, expect, it } from "vitest";
import { type Occupant, placeModel, planEviction } from "../src";

const result = validateConfig({
  clusters: [
    {
      name: "c",
      nodes: [
        { name: "hot-1", gpus: 8, role: "hot" },
        { name: "rot-1", gpus: 8, role: "rotating" },
        { name: "rot-2", gpus: 8, role: "rotating" },
      ],
      frameworks: ["vllm"],
    },
  ],
  models: [
    { id: "small", cluster: "c", framework: "vllm", capabilities: ["chat"], placement: "dynamic", gpus: 1 },
    { id: "big", cluster: "c", framework: "vllm", capabilities: ["chat"], placement: "dynamic", gpus: 8 },
    {
      id: "pinned-hot",
      cluster: "c",
      framework: "vllm",
      capabilities: ["chat"],
      placement: "hot",
      node: "hot-1",
      gpus: 4,
    },
  ],
});
if (!result.ok) throw new Error(JSON.stringify(result.problems));
const { config } = result;
const nodes = config.clusters[0]!.nodes;
const model = (id: string) => config.models.find((m) => m.id === id)!;
const occupant = (id: string, node: string, gpus: number, lastUsed: number, evictable = true): Occupant => ({
  deploymentId: id,
  node,
  gpus,
  lastUsed,
  evictable,
});

describe("placement", () => {
  it("puts hot models on their node and dynamic ones on rotating nodes, best fit first", () => {
    expect(placeModel(model("pinned-hot"), nodes, [])?.name).toBe("hot-1");
    expect(placeModel(model("small"), nodes, [])?.name).toBe("rot-1");
    // rot-2 has 2 free, rot-1 has 8: the 1-GPU model goes where it leaves the smallest hole.
    expect(placeModel(model("small"), nodes, [occupant("a", "rot-2", 6, 0)])?.name).toBe("rot-2");
    expect(
      placeModel(model("big"), nodes, [occupant("a", "rot-1", 1, 0), occupant("b", "rot-2", 1, 0)]),
    ).toBeUndefined();
  });

  it("evicts the least recently used idle deployments, never busy ones", () => {
    const full = [occupant("old", "rot-1", 4, 100), occupant("new", "rot-1", 4, 900), occupant("mid", "rot-2", 8, 500)];
    // One eviction suffices on rot-2 (mid) but rot-1 needs two: fewer victims wins.
    expect(planEviction(model("big"), nodes, full)?.evict.map((v) => v.deploymentId)).toEqual(["mid"]);
    expect(planEviction(model("small"), nodes, full)?.evict.map((v) => v.deploymentId)).toEqual(["old"]);
    const busy = [
      occupant("old", "rot-1", 4, 100, false),
      occupant("new", "rot-1", 4, 900),
      occupant("mid", "rot-2", 8, 500, false),
    ];
    expect(planEviction(model("small"), nodes, busy)?.evict.map((v) => v.deploymentId)).toEqual(["new"]);
    const allBusy = busy.map((o) => ({ ...o, evictable: false }));
    expect(planEviction(model("small"), nodes, allBusy)).toBeUndefined();
    expect(planEviction(model("pinned-hot"), nodes, full)).toBeUndefined();
  });
});
