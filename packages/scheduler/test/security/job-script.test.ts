import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { defaultConfigInput, type ResolvedModel, type SwitchyardConfigInput, validateConfig } from "@switchyard/core";
import { afterAll, describe, expect, it } from "vitest";
import { SlurmLauncher } from "../../src";
import { quiet, SWITCHYARD_BIN, slurmAvailable } from "../harness";

/**
 * The Slurm job script is shell: a value that reaches it must never be read as shell syntax.
 * The config check keeps such values out of ids and paths, and the launcher quotes every value
 * anyway (a config is written by operators, but it should not take one typo to run a command).
 */

function withModel(model: Record<string, unknown>): SwitchyardConfigInput {
  return {
    clusters: [{ name: "lab", nodes: [{ name: "n1", gpus: 1, role: "rotating" }], frameworks: ["vllm"] }],
    models: [{ cluster: "lab", framework: "vllm", capabilities: ["chat"], placement: "dynamic", ...model }],
  } as SwitchyardConfigInput;
}

function problemsOf(input: SwitchyardConfigInput): string[] {
  const result = validateConfig(input);
  return result.ok ? [] : result.problems.map((p) => `${p.path}: ${p.message}`);
}

/** A model as the launcher receives it, past the config check, with the id under test. */
function modelWithId(id: string): ResolvedModel {
  return {
    id,
    cluster: "lab",
    framework: "vllm",
    capabilities: ["chat"],
    placement: "dynamic",
    gpus: 1,
    allowedGroups: [],
    aliases: [],
    engine: { type: "simulator", loadTime: 0, profile: "fast", args: [], env: {} },
    expectedLoadTime: 1,
    idleTtl: 3600,
    maxLifetime: 3600,
    minReplicas: 0,
    maxReplicas: 1,
    replicaConcurrency: 32,
  };
}

describe("the config check on values that reach a job script", () => {
  it("a model id with shell syntax is refused at config check; the built-in catalog's ids pass", () => {
    for (const id of ["org/x$(id)", "org/x`id`", "org/x;id", "org/x y", "org/x\nid", "-rf", "org/'x'"]) {
      expect(problemsOf(withModel({ id })), JSON.stringify(id)).toEqual([
        expect.stringMatching(/^models\[0\]\.id: use letters, digits/),
      ]);
    }
    expect(problemsOf(defaultConfigInput())).toEqual([]);
    expect(problemsOf(withModel({ id: "meta-llama/Meta-Llama-3.1-8B-Instruct" }))).toEqual([]);
  });

  it("weights, tags and environment names with shell syntax are refused at config check", () => {
    expect(problemsOf(withModel({ id: "org/a", engine: { type: "vllm", weights: "/models/$(id)" } }))).toEqual([
      expect.stringMatching(/^models\[0\]\.engine\.weights: /),
    ]);
    expect(problemsOf(withModel({ id: "org/a", engine: { type: "ollama", tag: "llama3;id" } }))).toEqual([
      expect.stringMatching(/^models\[0\]\.engine\.tag: /),
    ]);
    expect(problemsOf(withModel({ id: "org/a", engine: { type: "vllm", env: { "A=1 B": "x" } } }))).toHaveLength(1);
  });

  it("a model's engine args cannot swap its deployment key for a known one", () => {
    expect(
      problemsOf(withModel({ id: "org/a", engine: { type: "vllm", args: ["--api-key", "everyone-knows-this"] } })),
    ).toEqual([expect.stringMatching(/^models\[0\]\.engine\.args: remove '--api-key'/)]);
  });
});

describe("the job script as the shell reads it (no Slurm needed)", () => {
  it("a model id with $(...), backquotes, quotes and ';' past the config check stays one word and runs nothing", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "sy-script-sh-"));
    try {
      const marker = path.join(dir, "ran");
      const id = `org/evil$(touch ${marker})\`touch ${marker}\`';touch ${marker};'"$(touch ${marker})"`;
      const model = modelWithId(id);
      const launcher = new SlurmLauncher({
        stateDir: path.join(dir, "state"),
        config: { type: "slurm", sbatchArgs: [], pinNodes: false },
        engines: { switchyardBin: SWITCHYARD_BIN },
        logger: quiet,
      });
      const script = launcher.script({
        deploymentId: "dep_quote",
        model,
        cluster: "lab",
        node: { name: "n1", gpus: 1, role: "rotating" },
        gpus: 0,
        serverKey: "sy-server-test-key",
      });
      // Everything up to the engine runs as written; the engine's command is printed a word a line instead.
      expect(script).toMatch(/^exec env /m);
      const file = path.join(dir, "job.sh");
      writeFileSync(file, script.replace(/^exec env /m, "exec printf '%s\\n' "));
      writeFileSync(path.join(dir, "state", "dep_quote.key"), "sy-server-test-key", { mode: 0o600 });
      const run = spawnSync("bash", [file], { cwd: dir, encoding: "utf8", timeout: 20_000 });
      expect(existsSync(marker), "a command in the model id ran").toBe(false);
      expect(run.status, run.stderr).toBe(0);
      const out = run.stdout;
      expect(out).toContain(`switchyard: serving ${id} on `);
      expect(out.split("\n")).toContain(id);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the Slurm state directory", () => {
  it("a state directory others can write (to swap a job script or a key) is refused", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "sy-state-"));
    try {
      chmodSync(dir, 0o777);
      const launcher = () =>
        new SlurmLauncher({
          stateDir: dir,
          config: { type: "slurm", sbatchArgs: [], pinNodes: false },
          engines: { switchyardBin: SWITCHYARD_BIN },
          logger: quiet,
        });
      expect(launcher).toThrow(/writable by others \(mode 777\).*chmod go-w/);
      chmodSync(dir, 0o700);
      expect(launcher).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const withSlurm = slurmAvailable();

describe.runIf(withSlurm)("a job script on real Slurm", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "sy-script-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("a model id with $(...) cannot run a command in the job script", async () => {
    const marker = path.join(dir, "ran");
    // Past the config check (which refuses it) the launcher must still treat it as data.
    const model = modelWithId(`org/evil$(touch ${marker})\`touch ${marker}\``);
    const launcher = new SlurmLauncher({
      stateDir: path.join(dir, "state"),
      config: { type: "slurm", sbatchArgs: [], pinNodes: false },
      engines: { switchyardBin: SWITCHYARD_BIN, loadTimeScale: 1 },
      logger: quiet,
    });
    const deploymentId = `dep_script_${Date.now().toString(36)}`;
    const job = await launcher.launch({
      deploymentId,
      model,
      cluster: "lab",
      node: { name: "n1", gpus: 1, role: "rotating" },
      gpus: 0,
      serverKey: "sy-server-test-key",
    });
    try {
      // Once the server answers, every line of the script before `exec` has run.
      const deadline = Date.now() + 60_000;
      let healthy = false;
      while (!healthy && Date.now() < deadline) {
        const seen = (await launcher.observe()).find((o) => o.deploymentId === deploymentId);
        if (seen?.phase === "exited") throw new Error(`the job ended: ${await launcher.tail(deploymentId)}`);
        if (seen?.baseUrl) healthy = (await fetch(`${seen.baseUrl}/health`).catch(() => undefined))?.status === 200;
        if (!healthy) await new Promise((r) => setTimeout(r, 200));
      }
      expect(healthy, "the server came up").toBe(true);
      expect(existsSync(marker)).toBe(false);
      expect(await launcher.tail(deploymentId)).toContain(`serving ${model.id} on`);
      // Another install (or another cluster of this one) under the same account has its own
      // state directory: it does not see this job, so it can neither adopt nor cancel it.
      const other = new SlurmLauncher({
        stateDir: path.join(dir, "other-state"),
        config: { type: "slurm", sbatchArgs: [], pinNodes: false },
        engines: { switchyardBin: SWITCHYARD_BIN },
        logger: quiet,
      });
      expect((await other.observe()).map((o) => o.deploymentId)).not.toContain(deploymentId);
      expect((await launcher.observe()).map((o) => o.deploymentId)).toContain(deploymentId);
    } finally {
      await launcher.stop(deploymentId, job.jobId);
    }
  });
});
