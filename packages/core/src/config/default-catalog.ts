import type { Capability } from "../capabilities";
import type { SwitchyardConfigInput } from "./schema";

/**
 * The built-in catalog: the reference service's Sophia cluster (8 nodes of 8 GPUs, 5 for hot
 * models, 3 rotating) with its chat, vision and embedding models and their marks, and Metis
 * listed as coming soon. Every model is served by the simulator, whose load times are the
 * expected ones scaled down by `simulator.loadTimeScale` so a laptop sees them go live in
 * seconds.
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

const CHAT: Entry[] = [
  { id: "Qwen/Qwen2.5-7B-Instruct", family: "Qwen", marks: "BT", gpus: 1, size: "small", context: 32768 },
  { id: "Qwen/Qwen2.5-14B-Instruct", family: "Qwen", marks: "BT", gpus: 2, size: "medium", context: 32768 },
  { id: "Qwen/QwQ-32B", family: "Qwen", marks: "BRT", gpus: 4, size: "medium", context: 32768 },
  {
    id: "Qwen/Qwen3-32B",
    family: "Qwen",
    marks: "BRT",
    gpus: 4,
    size: "medium",
    context: 32768,
    hot: "sophia-gpu-03",
    aliases: ["qwen3-32b"],
  },
  { id: "Qwen/Qwen3-235B-A22B", family: "Qwen", marks: "T", gpus: 8, size: "huge", context: 32768 },
  {
    id: "meta-llama/Meta-Llama-3.1-8B-Instruct",
    family: "Llama",
    marks: "BT",
    gpus: 1,
    size: "small",
    context: 131072,
    hot: "sophia-gpu-04",
    aliases: ["llama-8b"],
  },
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
  { id: "mistralai/Mistral-Large-Instruct-2407", family: "Mistral", gpus: 8, size: "huge", context: 131072 },
  { id: "mistralai/Mixtral-8x22B-Instruct-v0.1", family: "Mistral", gpus: 8, size: "huge", context: 65536 },
  { id: "mgoin/Nemotron-4-340B-Instruct-hf", family: "Nemotron", gpus: 8, size: "huge", context: 4096 },
  {
    id: "argonne/AuroraGPT-IT-v4-0125",
    family: "AuroraGPT",
    marks: "B",
    gpus: 1,
    size: "small",
    context: 4096,
    groups: ["auroragpt"],
  },
  {
    id: "argonne/AuroraGPT-Tulu3-SFT-0125",
    family: "AuroraGPT",
    marks: "B",
    gpus: 1,
    size: "small",
    context: 4096,
    groups: ["auroragpt"],
  },
  {
    id: "argonne/AuroraGPT-DPO-UFB-0225",
    family: "AuroraGPT",
    marks: "B",
    gpus: 1,
    size: "small",
    context: 4096,
    groups: ["auroragpt"],
  },
  {
    id: "argonne/AuroraGPT-KTO-UFB-0325",
    family: "AuroraGPT",
    marks: "B",
    gpus: 1,
    size: "small",
    context: 4096,
    groups: ["auroragpt"],
  },
  { id: "allenai/Llama-3.1-Tulu-3-405B", family: "Tulu", gpus: 8, size: "huge", context: 131072 },
  {
    id: "openai/gpt-oss-20b",
    family: "gpt-oss",
    marks: "BRT",
    gpus: 1,
    size: "small",
    context: 131072,
    hot: "sophia-gpu-04",
    aliases: ["gpt-oss-20b"],
  },
  {
    id: "openai/gpt-oss-120b",
    family: "gpt-oss",
    marks: "BRT",
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
    hot: "sophia-gpu-04",
    aliases: ["gemma-3-27b"],
  },
];

const VISION: Entry[] = [
  { id: "Qwen/Qwen2-VL-72B-Instruct", family: "Qwen", marks: "T", gpus: 8, size: "large", context: 32768 },
  { id: "meta-llama/Llama-3.2-90B-Vision-Instruct", family: "Llama", gpus: 8, size: "large", context: 131072 },
];

const EMBEDDING: Entry[] = [
  {
    id: "mistralai/Mistral-7B-Instruct-v0.3-embed",
    family: "Mistral",
    gpus: 1,
    size: "small",
    context: 32768,
    hot: "sophia-gpu-05",
  },
  { id: "Qwen/Qwen3-Embedding-8B", family: "Qwen", gpus: 1, size: "small", context: 32768, hot: "sophia-gpu-05" },
  {
    id: "Salesforce/SFR-Embedding-Mistral",
    family: "Salesforce",
    gpus: 1,
    size: "small",
    context: 4096,
    hot: "sophia-gpu-05",
  },
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
    ],
    models: [
      ...CHAT.map((e) => model(e, ["chat", "completions"], "vllm")),
      ...VISION.map((e) => model(e, ["chat", "completions", "vision"], "vllm")),
      ...EMBEDDING.map((e) => model(e, ["embedding"], "infinity")),
    ],
  };
}
