import type { Capability } from "../capabilities";
import type { SwitchyardConfigInput } from "./schema";

/**
 * The built-in catalog: the reference service's Sophia cluster (8 nodes of 8 GPUs, 5 for hot
 * models, 3 rotating) with exactly its published model list (ids, chat/vision/embedding, the
 * B/T/R marks), and its other clusters listed as coming soon. Every model is served by the
 * simulator, whose load times are the expected ones scaled down by `simulator.loadTimeScale` so
 * a laptop sees them go live in seconds.
 *
 * Hot placement (the 5 hot nodes): the three models the reference guide's own examples call
 * (Llama 3.1 8B for chat and batches, Qwen2-VL 72B for images, the Mistral embedding model) must
 * answer at once, not after a 10-15 minute cold start; the rest of the room goes to the popular
 * general models (Llama 3.1 70B, Llama 4 Scout, Gemma 3), the reasoning models (Qwen3 32B,
 * gpt-oss 20b and 120b) and the other batch-enabled embedding model. Everything else loads on
 * the 3 rotating nodes on demand.
 */

type Size = "small" | "medium" | "large" | "huge";
const LOAD_TIME: Record<Size, string> = { small: "3m", medium: "6m", large: "10m", huge: "15m" };

interface Entry {
  id: string;
  family: string;
  marks?: string;
  caps?: Capability[];
  gpus: number;
  size: Size;
  context: number;
  hot?: string;
  aliases?: string[];
  groups?: string[];
  framework?: string;
}

const MARKS: Record<string, Capability> = { B: "batch", T: "tools", R: "reasoning" };

// In the order of the reference service's model list; hot placement is explained above.
const CHAT: Entry[] = [
  { id: "Qwen/Qwen2.5-14B-Instruct", family: "Qwen", marks: "BT", gpus: 2, size: "medium", context: 32768 },
  { id: "Qwen/Qwen2.5-7B-Instruct", family: "Qwen", marks: "BT", gpus: 1, size: "small", context: 32768 },
  { id: "Qwen/QwQ-32B", family: "Qwen", marks: "BRT", gpus: 4, size: "medium", context: 32768 },
  { id: "Qwen/Qwen3-235B-A22B", family: "Qwen", marks: "RT", gpus: 8, size: "huge", context: 32768 },
  {
    id: "Qwen/Qwen3-32B",
    family: "Qwen",
    marks: "BR",
    gpus: 4,
    size: "medium",
    context: 32768,
    hot: "sophia-gpu-03",
    aliases: ["qwen3-32b"],
  },
  { id: "meta-llama/Meta-Llama-3-70B-Instruct", family: "Llama", marks: "B", gpus: 8, size: "large", context: 8192 },
  { id: "meta-llama/Meta-Llama-3-8B-Instruct", family: "Llama", marks: "B", gpus: 1, size: "small", context: 8192 },
  {
    id: "meta-llama/Meta-Llama-3.1-70B-Instruct",
    family: "Llama",
    marks: "BT",
    gpus: 8,
    size: "large",
    context: 131072,
    hot: "sophia-gpu-01",
    aliases: ["llama-70b"],
  },
  {
    id: "meta-llama/Meta-Llama-3.1-8B-Instruct",
    family: "Llama",
    marks: "BT",
    gpus: 1,
    size: "small",
    context: 131072,
    hot: "sophia-gpu-05",
    aliases: ["llama-8b"],
  },
  {
    id: "meta-llama/Meta-Llama-3.1-405B-Instruct",
    family: "Llama",
    marks: "BT",
    gpus: 8,
    size: "huge",
    context: 131072,
    aliases: ["llama-405b"],
  },
  { id: "meta-llama/Llama-3.3-70B-Instruct", family: "Llama", marks: "BT", gpus: 8, size: "large", context: 131072 },
  {
    id: "meta-llama/Llama-4-Scout-17B-16E-Instruct",
    family: "Llama",
    marks: "BT",
    gpus: 8,
    size: "large",
    context: 131072,
    hot: "sophia-gpu-02",
    aliases: ["llama-4-scout"],
  },
  {
    id: "meta-llama/Llama-4-Maverick-17B-128E-Instruct",
    family: "Llama",
    marks: "T",
    gpus: 8,
    size: "huge",
    context: 131072,
  },
  { id: "mistralai/Mistral-7B-Instruct-v0.3", family: "Mistral", marks: "B", gpus: 1, size: "small", context: 32768 },
  {
    id: "mistralai/Mistral-Large-Instruct-2407",
    family: "Mistral",
    marks: "B",
    gpus: 8,
    size: "huge",
    context: 131072,
  },
  { id: "mistralai/Mixtral-8x22B-Instruct-v0.1", family: "Mistral", marks: "B", gpus: 8, size: "huge", context: 65536 },
  { id: "mgoin/Nemotron-4-340B-Instruct-hf", family: "Nemotron", gpus: 8, size: "huge", context: 4096 },
  ...[
    "argonne-private/AuroraGPT-IT-v4-0125",
    "argonne-private/AuroraGPT-Tulu3-SFT-0125",
    "argonne-private/AuroraGPT-DPO-UFB-0225",
    "argonne-private/AuroraGPT-7B-OI",
  ].map(
    (id): Entry => ({
      id,
      family: "AuroraGPT",
      marks: "B",
      gpus: 1,
      size: "small",
      context: 4096,
      groups: ["auroragpt"],
    }),
  ),
  { id: "allenai/Llama-3.1-Tulu-3-405B", family: "Tulu", gpus: 8, size: "huge", context: 131072 },
  {
    id: "openai/gpt-oss-20b",
    family: "gpt-oss",
    marks: "BR",
    gpus: 1,
    size: "small",
    context: 131072,
    hot: "sophia-gpu-05",
    aliases: ["gpt-oss-20b"],
  },
  {
    id: "openai/gpt-oss-120b",
    family: "gpt-oss",
    marks: "BR",
    gpus: 4,
    size: "large",
    context: 131072,
    hot: "sophia-gpu-03",
    aliases: ["gpt-oss-120b"],
  },
  {
    id: "google/gemma-3-27b-it",
    family: "Gemma",
    marks: "BT",
    gpus: 2,
    size: "medium",
    context: 131072,
    hot: "sophia-gpu-05",
    aliases: ["gemma-3-27b"],
  },
];

const VISION: Entry[] = [
  {
    id: "Qwen/Qwen2-VL-72B-Instruct",
    family: "Qwen",
    marks: "B",
    gpus: 8,
    size: "large",
    context: 32768,
    hot: "sophia-gpu-04",
  },
  { id: "meta-llama/Llama-3.2-90B-Vision-Instruct", family: "Llama", gpus: 8, size: "large", context: 131072 },
];

const EMBEDDING: Entry[] = [
  {
    id: "mistralai/Mistral-7B-Instruct-v0.3-embed",
    family: "Mistral",
    marks: "B",
    gpus: 1,
    size: "small",
    context: 32768,
    hot: "sophia-gpu-05",
  },
  {
    id: "Salesforce/SFR-Embedding-Mistral",
    family: "Salesforce",
    marks: "B",
    gpus: 1,
    size: "small",
    context: 4096,
    hot: "sophia-gpu-05",
  },
  { id: "nvidia/NV-Embed-v2", family: "Nvidia", gpus: 1, size: "small", context: 32768 },
];

function model(entry: Entry, base: Capability[], framework: string) {
  const marks = [...(entry.marks ?? "")].map((mark) => MARKS[mark] as Capability);
  return {
    id: entry.id,
    cluster: "sophia",
    framework,
    family: entry.family,
    capabilities: [...base, ...marks],
    placement: entry.hot ? ("hot" as const) : ("dynamic" as const),
    ...(entry.hot ? { node: entry.hot } : {}),
    gpus: entry.gpus,
    expectedLoadTime: LOAD_TIME[entry.size],
    contextLength: entry.context,
    aliases: entry.aliases ?? [],
    allowedGroups: entry.groups ?? [],
  };
}

const sophiaNodes = Array.from({ length: 8 }, (_, i) => ({
  name: `sophia-gpu-${String(i + 1).padStart(2, "0")}`,
  gpus: 8,
  role: i < 5 ? ("hot" as const) : ("rotating" as const),
}));

/** A fresh copy of the built-in config (the caller may add directories, change scales). */
export function defaultConfigInput(): SwitchyardConfigInput {
  return {
    version: 1,
    defaultCluster: "sophia",
    defaults: { idleTtl: "2h", maxLifetime: "24h", expectedLoadTime: "10m" },
    // 10 minutes of expected load time become 1.2 s in the simulator.
    simulator: { loadTimeScale: 0.002 },
    clusters: [
      {
        name: "sophia",
        displayName: "Sophia (simulated)",
        status: "active",
        launcher: { type: "local" },
        nodes: sophiaNodes,
        frameworks: [
          { name: "vllm", endpoints: ["chat/completions", "completions", "responses", "messages", "batches"] },
          { name: "infinity", endpoints: ["embeddings"] },
        ],
        batch: { allowedDirs: [] },
      },
      {
        name: "metis",
        displayName: "Metis (SambaNova SN40L)",
        status: "coming_soon",
        statusReason: "coming soon",
        frameworks: ["api"],
      },
      // Announced without an endpoint yet: no frameworks until they have one.
      {
        name: "cerebras",
        displayName: "Cerebras CS-3 inference cluster",
        status: "coming_soon",
        statusReason: "coming soon",
      },
      {
        name: "gh200",
        displayName: "GH200 NVIDIA cluster",
        status: "coming_soon",
        statusReason: "coming soon",
      },
    ],
    models: [
      ...CHAT.map((e) => model(e, ["chat", "completions"], "vllm")),
      ...VISION.map((e) => model(e, ["chat", "completions", "vision"], "vllm")),
      ...EMBEDDING.map((e) => model(e, ["embedding"], "infinity")),
    ],
  };
}
