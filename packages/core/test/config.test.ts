import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { defaultConfigInput, parseConfigText, type SwitchyardConfigInput, validateConfig } from "../src";

function problems(input: unknown) {
  const result = validateConfig(input);
  if (result.ok) throw new Error("expected the config to be rejected");
  return result.problems;
}

const minimal = (): SwitchyardConfigInput => ({
  clusters: [
    {
      name: "c1",
      nodes: [
        { name: "n1", gpus: 8, role: "hot" },
        { name: "n2", gpus: 4, role: "rotating" },
      ],
      frameworks: ["vllm", "infinity"],
    },
  ],
  models: [
    { id: "org/chat", cluster: "c1", framework: "vllm", capabilities: ["chat"], placement: "dynamic", gpus: 2 },
    {
      id: "org/embed",
      cluster: "c1",
      framework: "infinity",
      capabilities: ["embedding"],
      placement: "hot",
      node: "n1",
    },
  ],
});

describe("the built-in catalog", () => {
  const result = validateConfig(defaultConfigInput());
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  const config = result.config;
  const byId = new Map(config.models.map((m) => [m.id, m]));

  it("is Sophia with 8 nodes of 8 GPUs, 5 hot and 3 rotating, and Metis coming soon", () => {
    const sophia = config.clusters.find((c) => c.name === "sophia");
    expect(sophia?.nodes).toHaveLength(8);
    expect(sophia?.nodes.every((n) => n.gpus === 8)).toBe(true);
    expect(sophia?.nodes.filter((n) => n.role === "hot")).toHaveLength(5);
    expect(sophia?.frameworks.map((f) => f.name)).toEqual(["vllm", "infinity"]);
    expect(config.clusters.find((c) => c.name === "metis")?.status).toBe("coming_soon");
  });

  it("has every family of the reference catalog with its marks", () => {
    for (const family of ["Qwen", "Llama", "Mistral", "Nemotron", "AuroraGPT", "Tulu", "gpt-oss", "Gemma"]) {
      expect(
        config.models.some((m) => m.family === family && m.capabilities.includes("chat")),
        family,
      ).toBe(true);
    }
    expect(byId.get("openai/gpt-oss-120b")?.capabilities).toEqual(
      expect.arrayContaining(["batch", "reasoning", "tools"]),
    );
    expect(byId.get("meta-llama/Meta-Llama-3.1-8B-Instruct")?.capabilities).toEqual([
      "chat",
      "completions",
      "batch",
      "tools",
    ]);
    expect(byId.get("meta-llama/Llama-4-Maverick-17B-128E-Instruct")?.capabilities).not.toContain("batch");
    expect(config.models.filter((m) => m.capabilities.includes("vision"))).toHaveLength(2);
    const embedding = config.models.filter((m) => m.capabilities.includes("embedding"));
    expect(embedding).toHaveLength(3);
    expect(embedding.every((m) => m.framework === "infinity")).toBe(true);
  });

  it("keeps hot models on hot nodes within their GPUs, and resolves defaults", () => {
    const hot = config.models.filter((m) => m.placement === "hot");
    expect(hot.length).toBeGreaterThanOrEqual(5);
    expect(new Set(hot.map((m) => m.node)).size).toBe(5);
    const llama = byId.get("meta-llama/Meta-Llama-3.1-8B-Instruct");
    expect(llama).toMatchObject({ idleTtl: 7200, maxLifetime: 86400, expectedLoadTime: 180, aliases: ["llama-8b"] });
  });

  it("survives a YAML round trip (what `switchyard config default` prints)", () => {
    const result = parseConfigText(stringify(defaultConfigInput()));
    expect(result.ok).toBe(true);
  });
});

describe("config check", () => {
  it("accepts a minimal config and fills defaults", () => {
    const result = validateConfig(minimal());
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.config.clusters[0]?.launcher).toEqual({ type: "local" });
      expect(result.config.models[0]).toMatchObject({ idleTtl: 7200, engine: { type: "simulator" } });
    }
  });

  it.each<[string, (c: SwitchyardConfigInput) => void, string, RegExp]>([
    [
      "no clusters",
      (c) => {
        c.clusters = [];
      },
      "clusters",
      /at least one cluster/,
    ],
    [
      "a typo in a key",
      (c) => Object.assign(c.clusters[0] as object, { nodez: [] }),
      "clusters[0].nodez",
      /unknown key/,
    ],
    [
      "a model without id",
      (c) => {
        delete (c.models![0] as { id?: string }).id;
      },
      "models[0].id",
      /required/,
    ],
    [
      "GPUs as text",
      (c) => Object.assign(c.models![0] as object, { gpus: "two" }),
      "models[0].gpus",
      /expected int|number/,
    ],
    [
      "an unknown capability",
      (c) => Object.assign(c.models![0] as object, { capabilities: ["chat", "telepathy"] }),
      "models[0].capabilities[1]",
      /"chat"/,
    ],
    [
      "a bad duration",
      (c) => Object.assign(c.models![0] as object, { idleTtl: "soon" }),
      "models[0].idleTtl",
      /not a duration/,
    ],
    [
      "an unknown engine",
      (c) => Object.assign(c.models![0] as object, { engine: { type: "tpu" } }),
      "models[0].engine.type",
      /"vllm"/,
    ],
    [
      "a bad cluster name",
      (c) => Object.assign(c.clusters[0] as object, { name: "Big Cluster" }),
      "clusters[0].name",
      /lowercase/,
    ],
    [
      "an unknown framework",
      (c) => {
        c.clusters[0]!.frameworks = ["vllm", "magic"];
      },
      "clusters[0].frameworks[1]",
      /unknown framework 'magic'/,
    ],
    [
      "a duplicate cluster",
      (c) => {
        c.clusters.push({ ...c.clusters[0]! });
      },
      "clusters[1].name",
      /duplicate cluster/,
    ],
    [
      "a duplicate node",
      (c) => {
        c.clusters[0]!.nodes!.push({ name: "n1", gpus: 1, role: "hot" });
      },
      "clusters[0].nodes[2].name",
      /duplicate node/,
    ],
    [
      "a model on an unknown cluster",
      (c) => Object.assign(c.models![0] as object, { cluster: "c9" }),
      "models[0].cluster",
      /unknown cluster 'c9'/,
    ],
    [
      "a model on a framework the cluster lacks",
      (c) => {
        c.clusters[0]!.frameworks = ["vllm"];
      },
      "models[1].framework",
      /no framework 'infinity'/,
    ],
    [
      "a capability the framework cannot serve",
      (c) => Object.assign(c.models![1] as object, { capabilities: ["chat"] }),
      "models[1].framework",
      /no endpoint for: chat/,
    ],
    [
      "a model listed twice",
      (c) => {
        c.models!.push({ ...c.models![0]! });
      },
      "models[2].id",
      /listed twice/,
    ],
    [
      "an alias naming another model",
      (c) => Object.assign(c.models![0] as object, { aliases: ["org/embed"] }),
      "models[1].aliases",
      /already names model/,
    ],
    [
      "more GPUs than any node has",
      (c) => Object.assign(c.models![0] as object, { gpus: 16 }),
      "models[0].gpus",
      /largest rotating node/,
    ],
    [
      "a hot model pinned to a missing node",
      (c) => Object.assign(c.models![1] as object, { node: "n7" }),
      "models[1].node",
      /no node 'n7'/,
    ],
    [
      "a hot model pinned to a rotating node",
      (c) => Object.assign(c.models![1] as object, { node: "n2" }),
      "models[1].node",
      /rotating node/,
    ],
    [
      "a dynamic model pinned to a node",
      (c) => Object.assign(c.models![0] as object, { node: "n1" }),
      "models[0].node",
      /only hot models/,
    ],
    [
      "hot models overfilling a node",
      (c) => {
        c.models!.push({
          id: "big",
          cluster: "c1",
          framework: "vllm",
          capabilities: ["chat"],
          placement: "hot",
          node: "n1",
          gpus: 8,
        });
      },
      "models[2].node",
      /need 9 GPUs, the node has 8/,
    ],
    [
      "an unknown default cluster",
      (c) => {
        c.defaultCluster = "zz";
      },
      "defaultCluster",
      /unknown cluster/,
    ],
    [
      "an active cluster without nodes",
      (c) => {
        c.clusters[0]!.nodes = [];
      },
      "clusters[0].nodes",
      /at least one node/,
    ],
  ])("finds %s", (_name, mutate, path, message) => {
    const config = minimal();
    mutate(config);
    const found = problems(config);
    expect(found.map((p) => p.path)).toContain(path);
    expect(found.find((p) => p.path === path)?.message).toMatch(message);
  });

  it("reports every bad path at once, with YAML line numbers", () => {
    const text = [
      "clusters:", // 1
      "  - name: c1", // 2
      "    colour: blue", // 3
      "    nodes: [{ name: n1, gpus: 8, role: hot }]", // 4
      "    frameworks: [vllm]", // 5
      "models:", // 6
      "  - cluster: c1", // 7
      "    framework: vllm", // 8
      "    capabilities: [chat]", // 9
      "    placement: sometimes", // 10
    ].join("\n");
    const result = parseConfigText(text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: "clusters[0].colour", line: 3 }),
        expect.objectContaining({ path: "models[0].id", line: 7 }),
        expect.objectContaining({ path: "models[0].placement", line: 10 }),
      ]),
    );
  });

  it("reports YAML syntax errors with their line", () => {
    const result = parseConfigText("clusters:\n  - name: [c1\nmodels: []\n");
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(result.problems[0]).toMatchObject({
        path: "",
        line: expect.any(Number),
        message: expect.stringMatching(/^YAML:/),
      });
  });

  it("rejects an empty file as having no clusters", () => {
    const result = parseConfigText("");
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems.map((p) => p.path)).toContain("clusters");
  });
});
