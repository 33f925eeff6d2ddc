import { describe, expect, it } from "vitest";
import { Catalog, type SwitchyardConfig, SwitchyardError, validateConfig } from "../../src";

/** Two clusters; `org/chat` on both (its alias `chat` on `lab` only), `org/embed` on `lab` only, `org/big` on `hpc` only. */
function config(): SwitchyardConfig {
  const result = validateConfig({
    clusters: [
      { name: "lab", nodes: [{ name: "n1", gpus: 4, role: "hot" }], frameworks: ["vllm", "infinity"] },
      { name: "hpc", nodes: [{ name: "h1", gpus: 8, role: "rotating" }], frameworks: ["vllm"] },
    ],
    models: [
      {
        id: "org/chat",
        cluster: "lab",
        framework: "vllm",
        capabilities: ["chat"],
        placement: "hot",
        aliases: ["chat"],
      },
      { id: "org/embed", cluster: "lab", framework: "infinity", capabilities: ["embedding"], placement: "hot" },
      {
        id: "org/big",
        cluster: "hpc",
        framework: "vllm",
        capabilities: ["chat"],
        placement: "dynamic",
        aliases: ["big"],
      },
      { id: "org/chat", cluster: "hpc", framework: "vllm", capabilities: ["chat"], placement: "dynamic" },
    ],
  });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.config;
}

/** The catalogue error a call throws: its code, status and message. */
function refusal(call: () => unknown): { code: string; status: number; message: string } {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(SwitchyardError);
    const { code, status, message } = error as SwitchyardError;
    return { code, status, message };
  }
  throw new Error("expected the lookup to throw");
}

describe("Catalog", () => {
  const catalog = new Catalog(config());

  it("finds clusters, and names the known ones when there is no such cluster", () => {
    expect(catalog.cluster("hpc").name).toBe("hpc");
    expect(catalog.findCluster("lab")?.name).toBe("lab");
    expect(catalog.findCluster("nowhere")).toBeUndefined();
    expect(refusal(() => catalog.cluster("nowhere"))).toEqual({
      code: "cluster_not_found",
      status: 404,
      message: "There is no cluster 'nowhere'. Known clusters: lab, hpc.",
    });
  });

  it("finds a cluster's framework, and names the cluster's frameworks when it has no such one", () => {
    const { cluster, framework } = catalog.framework("lab", "infinity");
    expect([cluster.name, framework.name]).toEqual(["lab", "infinity"]);
    expect(refusal(() => catalog.framework("hpc", "infinity"))).toEqual({
      code: "framework_not_found",
      status: 404,
      message: "Cluster 'hpc' has no framework 'infinity'. Its frameworks: vllm.",
    });
    expect(refusal(() => catalog.framework("nowhere", "vllm")).code).toBe("cluster_not_found");
  });

  it("finds a model on a cluster by id or alias", () => {
    const byId = catalog.model("hpc", "org/chat");
    expect([byId.cluster.name, byId.model.id, byId.model.cluster]).toEqual(["hpc", "org/chat", "hpc"]);
    expect(catalog.model("lab", "chat").model.id).toBe("org/chat");
    expect(refusal(() => catalog.model("hpc", "chat")).code).toBe("model_not_on_cluster");
    expect(catalog.model("hpc", "big").model.id).toBe("org/big");
  });

  it("says where a model is served when the cluster asked for does not serve it", () => {
    expect(refusal(() => catalog.model("lab", "big"))).toEqual({
      code: "model_not_on_cluster",
      status: 404,
      message: "The model 'big' is not served on cluster 'lab'; it is served on: hpc.",
    });
    expect(refusal(() => catalog.model("hpc", "org/embed")).message).toBe(
      "The model 'org/embed' is not served on cluster 'hpc'; it is served on: lab.",
    );
  });

  it("answers model_not_found for a name nothing has, and cluster_not_found before it", () => {
    expect(refusal(() => catalog.model("lab", "org/missing"))).toEqual({
      code: "model_not_found",
      status: 404,
      message: "The model 'org/missing' does not exist. GET /v1/models lists the available models.",
    });
    expect(refusal(() => catalog.model("nowhere", "org/missing")).code).toBe("cluster_not_found");
    expect(refusal(() => catalog.anyModel("org/missing")).code).toBe("model_not_found");
  });

  it("lists every model a name means, once each, in the config's order", () => {
    expect(catalog.named("org/chat").map((m) => m.cluster)).toEqual(["lab", "hpc"]);
    expect(catalog.named("chat").map((m) => `${m.cluster}/${m.id}`)).toEqual(["lab/org/chat"]);
    expect(catalog.named("org/missing")).toEqual([]);
    const first = catalog.anyModel("org/chat");
    expect([first.cluster.name, first.model.id]).toEqual(["lab", "org/chat"]);
    const [big] = catalog.named("big");
    expect(big && catalog.clusterOf(big).name).toBe("hpc");
  });

  it("is built once per config", () => {
    const loaded = config();
    expect(Catalog.of(loaded)).toBe(Catalog.of(loaded));
    expect(Catalog.of(loaded)).not.toBe(Catalog.of(config()));
  });
});
