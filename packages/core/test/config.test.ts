import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import {
  CAPABILITY_MARKS,
  defaultConfigInput,
  parseConfigText,
  type SwitchyardConfigInput,
  validateConfig,
} from "../src";

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

/** The rows of each Markdown table in a file, as arrays of trimmed cells (header and rule left out). */
function markdownTables(text: string): string[][][] {
  const tables: string[][][] = [];
  let current: string[][] | undefined;
  for (const line of text.split("\n")) {
    if (!line.startsWith("|")) {
      current = undefined;
      continue;
    }
    const cells = line
      .slice(1, line.trimEnd().endsWith("|") ? line.trimEnd().length - 1 : undefined)
      .split("|")
      .map((cell) => cell.trim());
    if (!current) {
      current = [];
      tables.push(current);
      continue; // the header
    }
    if (cells.every((cell) => /^-+$/.test(cell))) continue;
    current.push(cells);
  }
  return tables;
}

describe("the built-in catalog", () => {
  const result = validateConfig(defaultConfigInput());
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  const config = result.config;
  const byId = new Map(config.models.map((m) => [m.id, m]));
  const [modelRows = [], clusterRows = []] = markdownTables(
    readFileSync(new URL("fixtures/reference-catalog.md", import.meta.url), "utf8"),
  );

  it("is exactly the reference service's model list: ids, order, kinds and B/T/R marks", () => {
    // The fixture itself, so that a parsing slip cannot make the comparison vacuous.
    expect(modelRows).toHaveLength(30);
    expect(modelRows.filter((row) => row[2] === "B")).toHaveLength(24);

    const reference = modelRows.map(([id, kind, b, t, r]) => ({ id, kind, marks: `${b}${t}${r}` }));
    const ours = config.models.map((m) => ({
      id: m.id,
      kind: m.capabilities.includes("embedding") ? "embedding" : m.capabilities.includes("vision") ? "vision" : "chat",
      marks: (["batch", "tools", "reasoning"] as const)
        .filter((cap) => m.capabilities.includes(cap))
        .map((cap) => CAPABILITY_MARKS[cap])
        .join(""),
    }));
    expect(ours).toEqual(reference);
  });

  it("gives each kind its endpoints and framework: chat and vision on vllm, embeddings on infinity", () => {
    for (const m of config.models) {
      const kind = m.capabilities.includes("embedding") ? "embedding" : "chat";
      const marks = m.capabilities.filter((cap) => ["batch", "tools", "reasoning"].includes(cap));
      const base = m.capabilities.filter((cap) => !marks.includes(cap));
      if (kind === "embedding") {
        expect([m.id, m.framework, base]).toEqual([m.id, "infinity", ["embedding"]]);
      } else {
        const vision = m.capabilities.includes("vision") ? ["vision"] : [];
        expect([m.id, m.framework, base]).toEqual([m.id, "vllm", ["chat", "completions", ...vision]]);
      }
    }
  });

  it("has the reference service's clusters: Sophia with 8 nodes of 8 GPUs (5 hot, 3 rotating), the others coming soon", () => {
    expect(config.clusters.map((c) => [c.name, c.status, c.frameworks.length > 0])).toEqual(
      clusterRows.map(([name, , status, endpoint]) => [name, status, endpoint !== ""]),
    );
    const sophia = config.clusters.find((c) => c.name === "sophia");
    expect(sophia?.nodes).toHaveLength(8);
    expect(sophia?.nodes.every((n) => n.gpus === 8)).toBe(true);
    expect(sophia?.nodes.filter((n) => n.role === "hot")).toHaveLength(5);
    expect(sophia?.frameworks.map((f) => f.name)).toEqual(["vllm", "infinity"]);
  });

  it("keeps the guide's example models hot, fills the 5 hot nodes, and resolves defaults", () => {
    const hot = config.models.filter((m) => m.placement === "hot");
    expect(new Set(hot.map((m) => m.node)).size).toBe(5);
    for (const id of [
      "meta-llama/Meta-Llama-3.1-8B-Instruct",
      "Qwen/Qwen2-VL-72B-Instruct",
      "mistralai/Mistral-7B-Instruct-v0.3-embed",
    ]) {
      expect(byId.get(id)?.placement, id).toBe("hot");
    }
    const llama = byId.get("meta-llama/Meta-Llama-3.1-8B-Instruct");
    expect(llama).toMatchObject({ idleTtl: 7200, maxLifetime: 86400, expectedLoadTime: 180, aliases: ["llama-8b"] });
  });

  it("keeps the short aliases people type, and every id and alias within [A-Za-z0-9._/-]", () => {
    const aliases = Object.fromEntries(config.models.flatMap((m) => m.aliases.map((alias) => [alias, m.id])));
    expect(aliases).toMatchObject({
      "llama-8b": "meta-llama/Meta-Llama-3.1-8B-Instruct",
      "llama-70b": "meta-llama/Meta-Llama-3.1-70B-Instruct",
      "qwen3-32b": "Qwen/Qwen3-32B",
      "gpt-oss-120b": "openai/gpt-oss-120b",
    });
    for (const name of [...config.models.map((m) => m.id), ...Object.keys(aliases)]) {
      expect(name).toMatch(/^[A-Za-z0-9._/-]+$/);
    }
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
      "a dynamic model that keeps replicas",
      (c) => Object.assign(c.models![0] as object, { minReplicas: 1 }),
      "models[0].minReplicas",
      /starts on demand and stops after idleTtl.*make it hot/,
    ],
    [
      "a hot model with no replica",
      (c) => Object.assign(c.models![1] as object, { minReplicas: 0 }),
      "models[1].minReplicas",
      /keeps at least one replica/,
    ],
    [
      "fewer maximum replicas than minimum",
      (c) => Object.assign(c.models![1] as object, { minReplicas: 3, maxReplicas: 2 }),
      "models[1].maxReplicas",
      /maxReplicas \(2\) is below minReplicas \(3\)/,
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

  it("gives hot models one replica and dynamic ones none to keep, one at most, unless told", () => {
    const input = minimal();
    Object.assign(input.models![0] as object, { maxReplicas: 4, replicaConcurrency: 8 });
    const result = validateConfig(input);
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const [dynamic, hot] = result.config.models;
    expect(dynamic).toMatchObject({ minReplicas: 0, maxReplicas: 4, replicaConcurrency: 8 });
    expect(hot).toMatchObject({ minReplicas: 1, maxReplicas: 1, replicaConcurrency: 32 });
    expect(result.config.scheduler.scaling).toEqual({ upWindow: 30, downWindow: 300, demandInterval: 1 });
  });

  it("counts every kept replica of a hot model pinned to a node against that node's GPUs", () => {
    const input = minimal();
    Object.assign(input.models![1] as object, { gpus: 4, minReplicas: 3 });
    expect(problems(input).find((p) => p.path === "models[1].node")?.message).toMatch(/need 12 GPUs, the node has 8/);
  });

  it("takes a cluster's world-readable roots as absolute paths only, none by default", () => {
    const ok = validateConfig(minimal());
    if (!ok.ok) throw new Error(JSON.stringify(ok.problems));
    expect(ok.config.clusters[0]?.batch.worldReadableRoots).toEqual([]);
    const input = minimal();
    (input.clusters as { batch?: unknown }[])[0] = {
      ...(input.clusters?.[0] as object),
      batch: { allowedDirs: ["/p"], worldReadableRoots: ["/data", "datasets"] },
    };
    expect(JSON.stringify(problems(input))).toMatch(/worldReadableRoots.*1.*must be an absolute path/);
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
