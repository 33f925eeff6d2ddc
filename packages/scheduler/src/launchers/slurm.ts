import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { LauncherConfig } from "@switchyard/core";
import { adapterFor, type EngineAdapterOptions, inheritedEnvironment } from "@switchyard/engines";
import type { Logger } from "pino";
import type { JobObservation, LaunchedJob, Launcher, LaunchRequest } from "../launcher";
import { tailFile } from "../logs";
import {
  type Endpoint,
  type NodeStatus,
  observationOf,
  PENDING_STATES,
  parseSinfo,
  parseSqueueLine,
  RUNNING_STATES,
  SINFO_FORMAT,
  SQUEUE_FORMAT,
  type SqueueLine,
  waitsForNodes,
} from "./slurm-status";

const run = promisify(execFile);

/** Slurm job names carry the deployment id, so a restarted scheduler finds its jobs again. */
export const JOB_PREFIX = "sy-";
const PORT_VARIABLE = "$SY_PORT";

export class SlurmError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SlurmError";
  }
}

/** One shell word whatever `value` holds: single quotes, each `'` written as `'\''`. */
function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** For the script's comment line, which cannot be quoted: anything but plain id characters becomes `?`. */
function commentSafe(value: string): string {
  return value.replace(/[^A-Za-z0-9._:/-]/g, "?");
}

/**
 * Model servers as Slurm jobs: `sbatch --parsable` with the deployment id in `--job-name`
 * (`sy-<id>`) and `--comment`, GPUs with `--gres=gpu:N`. The job script picks a free port on
 * its node, writes `{host, port}` to `<stateDir>/<id>.endpoint.json` (storage shared with the
 * compute nodes), then runs the engine. States come from `squeue`; stop is `scancel`.
 *
 * Every value in the script is a quoted shell word. The server's key goes to the engine through
 * its environment from `<id>.key` (mode 0600), so it is in no command line, no script and no
 * `scontrol show job` output; the state directory must be writable by this account only, or
 * anyone who can write there could replace a job script or a key.
 */
export class SlurmLauncher implements Launcher {
  readonly kind = "slurm" as const;
  readonly capabilities = { serversSurviveRestart: true, launchReaches: "submitted" } as const;
  private readonly submitted = new Map<string, { jobId: string; logPath: string }>();
  /** Job id -> the nodes it was last seen running on: a job seen pending after that was requeued. */
  private readonly ranOn = new Map<string, string>();
  private readonly user = userInfo().username;
  /** Absolute: every job is submitted with it as its working directory, which tells our jobs apart. */
  private readonly stateDir: string;

  constructor(
    private readonly options: {
      stateDir: string;
      config: Extract<LauncherConfig, { type: "slurm" }>;
      engines: EngineAdapterOptions;
      logger: Logger;
      /** Node.js on the compute nodes (default: this process's, which a shared install provides). */
      nodePath?: string;
    },
  ) {
    this.stateDir = path.resolve(options.stateDir);
    mkdirSync(options.stateDir, { recursive: true, mode: 0o700 });
    const { mode } = statSync(options.stateDir);
    if (mode & 0o022) {
      throw new SlurmError(
        `the Slurm state directory ${options.stateDir} is writable by others (mode ${(mode & 0o777).toString(8)}); ` +
          "job scripts and server keys live there: chmod go-w it",
      );
    }
  }

  onChange(): void {
    // Slurm has no push notifications here; the scheduler polls observe() every tick.
  }

  private file(deploymentId: string, suffix: string): string {
    return path.join(this.stateDir, `${deploymentId}${suffix}`);
  }

  /** The job script: find a port, publish the endpoint, become the engine. */
  script(request: LaunchRequest): string {
    const adapter = adapterFor(request.model, this.options.engines);
    const plan = adapter.launch(request.model, { host: "0.0.0.0", port: PORT_VARIABLE });
    if (plan.kind === "external")
      throw new SlurmError(`model ${request.model.id} is served externally; nothing to submit`);
    const node = this.options.nodePath ?? process.execPath;
    const endpoint = this.file(request.deploymentId, ".endpoint.json");
    const findPort = `const s=require("net").createServer().listen(0,"0.0.0.0",()=>{process.stdout.write(String(s.address().port));s.close()})`;
    const argv = plan.argv.map((arg) => (arg === PORT_VARIABLE ? `"${PORT_VARIABLE}"` : shellQuote(arg))).join(" ");
    const env = Object.entries(plan.env).map(([k, v]) => shellQuote(`${k}=${v}`));
    // A plain assignment, so `set -e` stops the job when the key file cannot be read.
    const key =
      plan.serverKeyEnv && request.serverKey
        ? [
            `${plan.serverKeyEnv}="$(< ${shellQuote(this.file(request.deploymentId, ".key"))})"`,
            `export ${plan.serverKeyEnv}`,
          ]
        : [];
    return [
      "#!/bin/bash",
      `# Switchyard deployment ${commentSafe(request.deploymentId)}: ${commentSafe(request.model.id)} on ${commentSafe(request.cluster)}.`,
      "# Written by the scheduler for this one job; it is safe to read, there is no need to edit it.",
      "set -eu",
      `export SWITCHYARD_DEPLOYMENT_ID=${shellQuote(request.deploymentId)}`,
      ...key,
      `SY_PORT=$(${shellQuote(node)} -e ${shellQuote(findPort)})`,
      `SY_HOST=$(hostname -I 2>/dev/null | awk '{print $1}')`,
      `SY_HOST=\${SY_HOST:-$(hostname)}`,
      `printf '{"host":"%s","port":%s,"node":"%s"}\\n' "$SY_HOST" "$SY_PORT" "$(hostname)" > ${shellQuote(`${endpoint}.tmp`)}`,
      `mv ${shellQuote(`${endpoint}.tmp`)} ${shellQuote(endpoint)}`,
      `printf 'switchyard: serving %s on %s:%s (job %s)\\n' ${shellQuote(request.model.id)} "$SY_HOST" "$SY_PORT" "\${SLURM_JOB_ID:-?}"`,
      `exec env ${[...env, argv].join(" ")}`,
      "",
    ].join("\n");
  }

  /**
   * The environment `sbatch` runs in, which the job inherits (Slurm exports the submitter's
   * environment by default): the model-server allowlist, and Slurm's own `SLURM_*`/`SBATCH_*`
   * settings for `sbatch` itself; never the service's secrets.
   */
  submitEnvironment(source: NodeJS.ProcessEnv = process.env): Record<string, string> {
    const env = inheritedEnvironment(this.options.engines, source);
    for (const [name, value] of Object.entries(source)) {
      if (value !== undefined && /^(SLURM|SBATCH)_/.test(name)) env[name] = value;
    }
    return env;
  }

  /** The `sbatch` arguments for a request (without the script path). */
  sbatchArgs(request: LaunchRequest, logPath: string): string[] {
    const { config } = this.options;
    const args = [
      "--parsable",
      `--job-name=${JOB_PREFIX}${request.deploymentId}`,
      `--comment=${request.deploymentId}`,
      `--output=${logPath}`,
      `--chdir=${this.stateDir}`,
    ];
    if (request.gpus > 0) args.push(`--gres=gpu:${request.gpus}`);
    if (config.partition) args.push(`--partition=${config.partition}`);
    if (config.account) args.push(`--account=${config.account}`);
    if (config.pinNodes) args.push(`--nodelist=${request.node.name}`);
    args.push(...config.sbatchArgs);
    return args;
  }

  async launch(request: LaunchRequest): Promise<LaunchedJob> {
    const scriptPath = this.file(request.deploymentId, ".sh");
    const logPath = this.file(request.deploymentId, ".log");
    const keyPath = this.file(request.deploymentId, ".key");
    rmSync(this.file(request.deploymentId, ".endpoint.json"), { force: true });
    const script = this.script(request);
    // Made afresh (never through a link someone left), readable by this account only.
    for (const file of [scriptPath, keyPath]) rmSync(file, { force: true });
    if (request.serverKey) writeFileSync(keyPath, `${request.serverKey}\n`, { mode: 0o600, flag: "wx" });
    writeFileSync(scriptPath, script, { mode: 0o700, flag: "wx" });
    let stdout: string;
    try {
      ({ stdout } = await run("sbatch", [...this.sbatchArgs(request, logPath), scriptPath], {
        timeout: 30_000,
        env: this.submitEnvironment(),
      }));
    } catch (error) {
      const err = error as { stderr?: string; message: string; code?: string };
      const detail =
        err.code === "ENOENT" ? "sbatch is not installed on this machine" : (err.stderr || err.message).trim();
      throw new SlurmError(`sbatch failed: ${detail}`, { cause: error });
    }
    const jobId = stdout.trim().split(";")[0] ?? "";
    if (!/^\d+$/.test(jobId)) throw new SlurmError(`sbatch answered '${stdout.trim()}' instead of a job id`);
    this.submitted.set(request.deploymentId, { jobId, logPath });
    return { jobId, logPath, reason: `submitted to Slurm as job ${jobId}` };
  }

  private endpoint(deploymentId: string): Endpoint | undefined {
    try {
      return JSON.parse(readFileSync(this.file(deploymentId, ".endpoint.json"), "utf8")) as Endpoint;
    } catch {
      return undefined;
    }
  }

  async observe(): Promise<JobObservation[]> {
    let stdout: string;
    try {
      ({ stdout } = await run("squeue", ["-h", "-t", "all", "-u", this.user, "-o", SQUEUE_FORMAT], {
        timeout: 30_000,
        env: { ...process.env, SLURM_TIME_FORMAT: "%s" },
      }));
    } catch (error) {
      throw new SlurmError(
        `squeue failed: ${((error as { stderr?: string }).stderr ?? (error as Error).message).trim()}`,
        {
          cause: error,
        },
      );
    }
    const ours: { deploymentId: string; line: SqueueLine }[] = [];
    const newest = new Map<string, number>();
    for (const text of stdout.split("\n")) {
      const parsed = parseSqueueLine(text);
      if (!parsed?.name.startsWith(JOB_PREFIX)) continue;
      const { name, comment, workDir, jobId } = parsed;
      // Only this launcher's jobs (submitted with --chdir=<stateDir>): another cluster of this
      // install, or another install, under the same account has its own state directory, and
      // its jobs are neither adopted nor cancelled as orphans here.
      if (!workDir || path.resolve(workDir) !== this.stateDir) continue;
      const deploymentId = comment && comment !== "(null)" ? comment : name.slice(JOB_PREFIX.length);
      // A requeued or resubmitted job: the newest (highest id) wins.
      if ((newest.get(deploymentId) ?? -1) > Number(jobId)) continue;
      newest.set(deploymentId, Number(jobId));
      ours.push({ deploymentId, line: parsed });
    }
    const current = ours.filter(({ deploymentId, line }) => newest.get(deploymentId) === Number(line.jobId));
    // Slurm's nodes matter only when a job lost its node or waits for one: one sinfo then.
    const nodeTrouble = current.some(
      ({ line }) =>
        (PENDING_STATES.has(line.state) && (this.ranOn.has(line.jobId) || waitsForNodes(line.reason))) ||
        line.state === "NODE_FAIL",
    );
    const nodes = nodeTrouble ? await this.nodes() : undefined;
    const seen = new Map<string, JobObservation>();
    for (const { deploymentId, line } of current) {
      const endpoint = RUNNING_STATES.has(line.state) ? this.endpoint(deploymentId) : undefined;
      const ranOn = this.ranOn.get(line.jobId);
      const observation = observationOf(deploymentId, line, {
        ...(ranOn ? { ranOn } : {}),
        ...(nodes ? { nodes } : {}),
        ...(endpoint
          ? {
              baseUrl: `http://${endpoint.host.includes(":") ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`,
            }
          : {}),
      });
      if (observation.phase === "running" && line.nodes) this.ranOn.set(line.jobId, line.nodes);
      else if (observation.phase === "exited") this.ranOn.delete(line.jobId);
      seen.set(deploymentId, observation);
    }
    for (const [deploymentId, job] of this.submitted) {
      if (!seen.has(deploymentId)) {
        seen.set(deploymentId, {
          deploymentId,
          jobId: job.jobId,
          phase: "exited",
          reason: "the Slurm job left the queue",
        });
      }
    }
    return [...seen.values()];
  }

  /** Slurm's nodes with their states and reasons; empty when sinfo cannot tell (the reasons get vaguer, nothing breaks). */
  private async nodes(): Promise<Map<string, NodeStatus>> {
    try {
      const { stdout } = await run("sinfo", ["-h", "-N", "-o", SINFO_FORMAT], { timeout: 30_000 });
      return parseSinfo(stdout);
    } catch (error) {
      this.options.logger.warn({ err: error }, "slurm: sinfo failed; node reasons unknown");
      return new Map();
    }
  }

  async stop(deploymentId: string, jobId: string): Promise<void> {
    this.ranOn.delete(jobId);
    try {
      await run("scancel", [jobId], { timeout: 30_000 });
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr ?? "";
      // An already finished job is not an error.
      if (!/Invalid job id|already completing or completed/i.test(stderr)) {
        throw new SlurmError(`scancel ${jobId} failed: ${stderr.trim() || (error as Error).message}`, { cause: error });
      }
    }
    this.submitted.delete(deploymentId);
    rmSync(this.file(deploymentId, ".key"), { force: true });
  }

  async tail(deploymentId: string, lines = 15): Promise<string> {
    return tailFile(this.file(deploymentId, ".log"), lines);
  }

  async shutdown(): Promise<void> {
    // Jobs keep running; the next scheduler start adopts them by name.
  }
}
