import { z } from "zod";
import { type Capability, CapabilitySchema, ENDPOINT_CAPABILITY, type Endpoint, EndpointSchema } from "../capabilities";
import { ClusterStatusSchema } from "../status";
import { DurationSchema } from "./duration";

/**
 * The catalog and platform config (`switchyard.config.yaml`). Objects are strict so that a
 * typo in a key is reported instead of silently ignored.
 *
 * Over 400 lines on purpose: declarations only, one block per section of the config file,
 * each field beside its default, so one file answers "what can I set, and to what".
 */

const Slug = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, "use lowercase letters, digits, '-' and '_' (at most 63 characters)");

const GroupList = z.array(z.string().min(1)).default([]);

/**
 * Values that reach a model server's command line and a Slurm job script (model ids, Ollama
 * tags, weights): ids like `meta-llama/Meta-Llama-3.1-8B-Instruct` or `llama3.1:8b`, paths like
 * `/models/llama.gguf`. The launchers quote every value anyway; this keeps shell syntax (`$`,
 * quotes, backquotes, spaces, `;`, newlines) and leading dashes out of them altogether.
 */
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._:/-]*$/;
const SafeId = z
  .string()
  .min(1)
  .max(256)
  .regex(SAFE_ID, "use letters, digits, '.', '_', '-', '/' and ':', starting with a letter or digit");
const SafePath = z
  .string()
  .min(1)
  .max(4096)
  .regex(
    /^[A-Za-z0-9._/][A-Za-z0-9._/:@+=,-]*$/,
    "use letters, digits and . _ / : @ + = , - (no spaces, quotes or shell characters), not starting with '-'",
  );
const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable name (letters, digits, '_')");

// ---- engines: how a model server is launched --------------------------------------------

const EngineCommon = {
  /** Extra command-line arguments for the server. */
  args: z.array(z.string()).default([]),
  /** Extra environment variables for the server. */
  env: z.record(EnvName, z.string()).default({}),
};

export const SimulatorEngineSchema = z.strictObject({
  type: z.literal("simulator"),
  /** Time from start until `/health` answers ready; defaults to the model's expectedLoadTime scaled by `simulator.loadTimeScale`. */
  loadTime: DurationSchema.optional(),
  timeToFirstToken: DurationSchema.optional(),
  tokensPerSecond: z.number().positive().optional(),
  maxConcurrency: z.int().positive().optional(),
  embeddingDimensions: z.int().positive().optional(),
  profile: z.enum(["realistic", "fast"]).optional(),
  ...EngineCommon,
});

export const VllmEngineSchema = z.strictObject({
  type: z.literal("vllm"),
  /** Weights path or Hugging Face id; defaults to the model id. */
  weights: SafePath.optional(),
  tensorParallel: z.int().positive().optional(),
  ...EngineCommon,
});

export const InfinityEngineSchema = z.strictObject({
  type: z.literal("infinity"),
  weights: SafePath.optional(),
  ...EngineCommon,
});

export const LlamaCppEngineSchema = z.strictObject({
  type: z.literal("llama-cpp"),
  /** Path to the GGUF file. */
  weights: SafePath,
  ...EngineCommon,
});

/** llama.cpp through node-llama-cpp, served by `switchyard engine llama-cpp` (no llama-server needed). */
export const LlamaCppNodeEngineSchema = z.strictObject({
  type: z.literal("llama-cpp-node"),
  /** Path to the GGUF file, or a generated test model (`generated:tiny-chat`), written on first start. */
  weights: SafePath,
  /** Sequences generated at once (default 4); more requests wait in a queue. */
  parallel: z.int().positive().optional(),
  /** CPU threads (default: the node's math cores). */
  threads: z.int().positive().optional(),
  /** `auto` (default): CUDA when its build is installed, else CPU; `cuda`; `none`. */
  gpu: z.enum(["auto", "cuda", "none"]).optional(),
  ...EngineCommon,
});

export const OllamaEngineSchema = z.strictObject({
  type: z.literal("ollama"),
  /** The Ollama model tag, e.g. `llama3.1:8b`. */
  tag: SafeId,
  ...EngineCommon,
});

export const ExternalEngineSchema = z.strictObject({
  type: z.literal("external"),
  /** Base URL of an OpenAI-compatible server someone else runs (ending before `/v1`). */
  url: z.url(),
  /** Environment variable holding the API key for it, if it needs one. */
  apiKeyEnv: EnvName.optional(),
});

export const EngineSchema = z.discriminatedUnion("type", [
  SimulatorEngineSchema,
  VllmEngineSchema,
  InfinityEngineSchema,
  LlamaCppEngineSchema,
  LlamaCppNodeEngineSchema,
  OllamaEngineSchema,
  ExternalEngineSchema,
]);
export type EngineSpec = z.infer<typeof EngineSchema>;
export type EngineType = EngineSpec["type"];

// ---- clusters --------------------------------------------------------------------------

export const NodeSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "use letters, digits, '.', '-' and '_'"),
  gpus: z.int().nonnegative(),
  /** Hot nodes hold models that never leave; rotating nodes load dynamic models on demand. */
  role: z.enum(["hot", "rotating"]),
});
export type NodeConfig = z.infer<typeof NodeSchema>;

export const LauncherSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("local") }),
  z.strictObject({
    type: z.literal("slurm"),
    partition: z.string().optional(),
    account: z.string().optional(),
    /** Extra `sbatch` arguments, e.g. `--qos=inference`. */
    sbatchArgs: z.array(z.string()).default([]),
    /** Pass the chosen node with `--nodelist` (the config's node names are Slurm's); otherwise Slurm places the job. */
    pinNodes: z.boolean().default(false),
    /** Directory on storage shared with the compute nodes for job scripts and endpoint files; default `<data-dir>/slurm`. */
    stateDir: z.string().optional(),
  }),
]);
export type LauncherConfig = z.infer<typeof LauncherSchema>;

/** Endpoints a framework offers when the config does not list them. */
export const DEFAULT_FRAMEWORK_ENDPOINTS: Readonly<Record<string, readonly Endpoint[]>> = {
  vllm: ["chat/completions", "completions", "responses", "messages", "embeddings", "batches"],
  infinity: ["embeddings"],
  "llama-cpp": ["chat/completions", "completions", "embeddings"],
  ollama: ["chat/completions", "completions", "embeddings"],
  api: ["chat/completions"],
};

export const FrameworkSchema = z
  .union([Slug, z.strictObject({ name: Slug, endpoints: z.array(EndpointSchema).min(1).optional() })])
  .transform((value, ctx) => {
    const name = typeof value === "string" ? value : value.name;
    const endpoints = (typeof value === "string" ? undefined : value.endpoints) ?? DEFAULT_FRAMEWORK_ENDPOINTS[name];
    if (!endpoints) {
      ctx.addIssue({
        code: "custom",
        message: `unknown framework '${name}': list its endpoints ({ name: ${name}, endpoints: [...] })`,
      });
      return z.NEVER;
    }
    return { name, endpoints: [...endpoints] };
  });
export type FrameworkConfig = z.output<typeof FrameworkSchema>;

export const ClusterSchema = z.strictObject({
  name: Slug,
  displayName: z.string().optional(),
  status: ClusterStatusSchema.default("active"),
  /** Shown to users when the cluster is in maintenance or coming soon. */
  statusReason: z.string().optional(),
  launcher: LauncherSchema.default({ type: "local" }),
  nodes: z.array(NodeSchema).default([]),
  frameworks: z.array(FrameworkSchema).default([]),
  /** Empty: every signed-in user. */
  allowedGroups: GroupList,
  batch: z
    .strictObject({
      /** Directories batch input files and output folders must lie in. */
      allowedDirs: z.array(z.string().min(1)).default([]),
      /**
       * Directories outside `allowedDirs` a batch may read its input from when the file is
       * world-readable (o+r) and every directory below the root world-searchable (o+x), with
       * no symlink on the way. Outputs never go here.
       */
      worldReadableRoots: z
        .array(
          z
            .string()
            .min(1)
            .refine((dir) => dir.startsWith("/"), "must be an absolute path"),
        )
        .default([]),
    })
    .default({ allowedDirs: [], worldReadableRoots: [] }),
});
export type ClusterConfig = z.output<typeof ClusterSchema>;

// ---- models ----------------------------------------------------------------------------

export const ModelSchema = z.strictObject({
  id: SafeId,
  cluster: Slug,
  framework: Slug,
  displayName: z.string().optional(),
  /** One or two sentences for users (`GET /resource_server/{cluster}/models`). */
  description: z.string().optional(),
  /** Grouping for the UI (Llama, Qwen, ...). */
  family: z.string().optional(),
  capabilities: z.array(CapabilitySchema).min(1, "a model needs at least one capability"),
  /** Hot models stay loaded on hot nodes; dynamic models load on rotating nodes on demand. */
  placement: z.enum(["hot", "dynamic"]),
  /** For hot models: the node to pin to (otherwise the scheduler picks a hot node). */
  node: z.string().optional(),
  gpus: z.int().positive().default(1),
  /** Typical time from start to ready; drives the ETA users see. */
  expectedLoadTime: DurationSchema.optional(),
  /** Stop a dynamic model after this long without requests. */
  idleTtl: DurationSchema.optional(),
  /** Stop (drain) a dynamic model after this long even when busy. */
  maxLifetime: DurationSchema.optional(),
  /**
   * Replicas (deployments) kept whatever the demand: hot models at least 1 (the default), dynamic
   * models 0 (they start on a request and stop after `idleTtl`).
   */
  minReplicas: z.int().min(0).optional(),
  /** Replicas demand may start (default: `minReplicas`, at least 1): one more while requests per replica stay above `replicaConcurrency`. */
  maxReplicas: z.int().positive().optional(),
  /**
   * Requests one replica serves well at once (vLLM's `max_num_seqs`, say): above this many per
   * replica for `scheduler.scaling.upWindow`, another replica starts. Default `defaults.replicaConcurrency`.
   */
  replicaConcurrency: z.int().positive().optional(),
  /** Empty: everyone allowed on the cluster. */
  allowedGroups: GroupList,
  /** Context window in tokens (reported as `max_model_len`). */
  contextLength: z.int().positive().optional(),
  aliases: z.array(z.string().min(1)).default([]),
  engine: EngineSchema.default({ type: "simulator", args: [], env: {} }),
});
export type ModelConfig = z.output<typeof ModelSchema>;

// ---- the whole file --------------------------------------------------------------------

export const DefaultsSchema = z
  .strictObject({
    expectedLoadTime: DurationSchema.default(600),
    idleTtl: DurationSchema.default(2 * 3600),
    maxLifetime: DurationSchema.default(24 * 3600),
    /** A model's `replicaConcurrency` when it gives none. */
    replicaConcurrency: z.int().positive().default(32),
  })
  .default({ expectedLoadTime: 600, idleTtl: 2 * 3600, maxLifetime: 24 * 3600, replicaConcurrency: 32 });

export const SimulatorSettingsSchema = z
  .strictObject({
    /** Multiply each model's expected load time by this for the simulator (0.001: 10 min -> 0.6 s). */
    loadTimeScale: z.number().min(0).max(1).default(1),
    /**
     * Run the simulated models of a local cluster in one shared simulator host process (one port
     * each) rather than a process each: about 100 MB less per model. `false` gives each its own
     * process, as real engines have (to kill one model's server from outside, for instance).
     */
    shareProcess: z.boolean().default(true),
  })
  .default({ loadTimeScale: 1, shareProcess: true });

// ---- scheduling ----------------------------------------------------------------------

const SCHEDULER_DEFAULTS = {
  tickInterval: 0.25,
  healthInterval: 5,
  healthFailures: 3,
  replicaFailures: 3,
  startTimeoutFactor: 3,
  minStartTimeout: 60,
  restartBackoff: { initial: 1, max: 60 },
  busyWindow: 30,
  drainTimeout: 300,
  stopGrace: 10,
  modelServerEnv: [] as string[],
  scaling: { upWindow: 30, downWindow: 300, demandInterval: 1 },
  policy: "current" as SchedulingPolicyName,
  demandHistory: 7 * 86_400,
};

/**
 * How dynamic models are kept, evicted and started ahead of demand (docs/scheduler.md compares
 * them; `switchyard trace replay` shows what each would do with your own demand).
 */
export const SCHEDULING_POLICIES = ["reference", "current", "predictive", "adaptive"] as const;
export type SchedulingPolicyName = (typeof SCHEDULING_POLICIES)[number];

export const SchedulerSettingsSchema = z
  .strictObject({
    /** How often the scheduler reconciles (launches, readiness, TTLs, the queue). */
    tickInterval: DurationSchema.default(SCHEDULER_DEFAULTS.tickInterval),
    /** How often live servers are health-checked. */
    healthInterval: DurationSchema.default(SCHEDULER_DEFAULTS.healthInterval),
    /** Failed checks in a row before a live server stops taking traffic. */
    healthFailures: z.int().positive().default(SCHEDULER_DEFAULTS.healthFailures),
    /**
     * Requests in a row that time out (or find no server) before a live replica is taken out
     * of rotation until a health check passes. A refused or broken connection takes it out at
     * once, and the health check runs then.
     */
    replicaFailures: z.int().positive().default(SCHEDULER_DEFAULTS.replicaFailures),
    /** A server not ready within max(minStartTimeout, factor x its expected load time) has failed. */
    startTimeoutFactor: z.number().positive().default(SCHEDULER_DEFAULTS.startTimeoutFactor),
    minStartTimeout: DurationSchema.default(SCHEDULER_DEFAULTS.minStartTimeout),
    /** Hot models that die are restarted after initial, 2x, 4x ... up to max. */
    restartBackoff: z
      .strictObject({ initial: DurationSchema.default(1), max: DurationSchema.default(60) })
      .default(SCHEDULER_DEFAULTS.restartBackoff),
    /** A deployment used within this window is busy: never evicted. */
    busyWindow: DurationSchema.default(SCHEDULER_DEFAULTS.busyWindow),
    /** How long draining waits for in-flight requests before stopping anyway. */
    drainTimeout: DurationSchema.default(SCHEDULER_DEFAULTS.drainTimeout),
    /** SIGTERM, then SIGKILL after this (local processes; Slurm uses its own KillWait). */
    stopGrace: DurationSchema.default(SCHEDULER_DEFAULTS.stopGrace),
    /**
     * More of the service's environment variables that model servers inherit, besides the
     * engines' usual ones (PATH, HOME, CUDA_*, HF_*, VLLM_*, ...): names, or prefixes ending in
     * `*`. The service's own (DATABASE_URL, REDIS_URL, SWITCHYARD_*, and the variables the
     * config reads secrets from) are never passed.
     */
    modelServerEnv: z
      .array(
        z
          .string()
          .regex(
            /^[A-Za-z_][A-Za-z0-9_]*\*?$/,
            "an environment variable name, or a prefix ending in '*' (e.g. MY_TOOL_*)",
          ),
      )
      .default(SCHEDULER_DEFAULTS.modelServerEnv),
    /**
     * Replicas that follow demand (models with `maxReplicas` above 1). Demand is each model's
     * requests in flight plus those waiting for it (held cold requests, batch lines not yet
     * sent), summed over every instance.
     */
    scaling: z
      .strictObject({
        /** Demand above `replicaConcurrency` per replica for this long starts more replicas. */
        upWindow: DurationSchema.default(SCHEDULER_DEFAULTS.scaling.upWindow),
        /** Demand that fewer replicas would serve for this long drains one extra replica. */
        downWindow: DurationSchema.default(SCHEDULER_DEFAULTS.scaling.downWindow),
        /** How often each instance shares its demand through the database. */
        demandInterval: DurationSchema.default(SCHEDULER_DEFAULTS.scaling.demandInterval),
      })
      .default(SCHEDULER_DEFAULTS.scaling),
    /**
     * Which idle dynamic model makes room for another, when a live one drains, and which are
     * started before anyone asks. `current`: idle TTL and max lifetime per model, least recently
     * used evicted first. `reference`: the reference service's (no idle stop, kept until max
     * lifetime, never evicted: a new model waits for a node). `predictive`: learns each model's
     * demand (by time of day and recent sessions), evicts the model least likely to be asked for
     * again weighted by its load time, keeps models warm while they are likely to be asked for
     * and starts them ahead of the hours they usually are. `adaptive`: `predictive` over all
     * nodes: the hot set follows demand too (dynamic models may use hot nodes; hot models an
     * operator has not pinned may be evicted and come back by demand).
     */
    policy: z.enum(SCHEDULING_POLICIES).default(SCHEDULER_DEFAULTS.policy),
    /**
     * How far back a policy that learns demand (`predictive`, `adaptive`) reads the usage
     * records when its scheduler becomes leader, and then follows every instance's new ones, so
     * a restart or a request served by another instance does not leave it blind. 0: learn only
     * from the requests this process sees.
     */
    demandHistory: DurationSchema.default(SCHEDULER_DEFAULTS.demandHistory),
  })
  .default(SCHEDULER_DEFAULTS);
export type SchedulerSettings = z.output<typeof SchedulerSettingsSchema>;

// ---- the gateway ---------------------------------------------------------------------

const LimitSchema = z.strictObject({
  requestsPerMinute: z.int().positive().optional(),
  tokensPerMinute: z.int().positive().optional(),
});
export type LimitConfig = z.output<typeof LimitSchema>;

const GroupLimitSchema = LimitSchema.extend({
  /** Inference requests one user may have in flight at once, on all instances together (429 beyond). */
  concurrentRequests: z.int().positive().optional(),
});
export type UserLimitConfig = z.output<typeof GroupLimitSchema>;

/** The per-user limits: the concurrency cap holds even when only the per-minute limits are set. */
const UserLimitSchema = GroupLimitSchema.extend({
  concurrentRequests: z.int().positive().default(32),
});

const GATEWAY_DEFAULTS = {
  maxBodyBytes: 10 * 1024 * 1024,
  maxJsonDepth: 64,
  holdSeconds: 30,
  upstreamTimeout: 600,
  connectTimeout: 10,
  chargeProjects: false,
  workers: "auto" as number | "auto",
  limits: {
    user: { requestsPerMinute: 600, tokensPerMinute: 60_000, concurrentRequests: 32 },
    model: { tokensPerMinute: 100_000 },
    models: {},
    groups: {},
    maxChoices: 8,
    maxOutputTokens: 32_768,
  },
};

export const GatewaySettingsSchema = z
  .strictObject({
    /** Largest request body accepted (413 beyond). */
    maxBodyBytes: z.int().positive().default(GATEWAY_DEFAULTS.maxBodyBytes),
    /** Deepest nesting of arrays and objects a JSON body may have (400 beyond). */
    maxJsonDepth: z.int().min(8).max(1000).default(GATEWAY_DEFAULTS.maxJsonDepth),
    /** How long a request for a model that is not live waits for it before 503 + Retry-After. */
    holdSeconds: z.number().min(0).max(600).default(GATEWAY_DEFAULTS.holdSeconds),
    /** Longest wait for a model server's answer (504 beyond); streams: between chunks. */
    upstreamTimeout: DurationSchema.default(GATEWAY_DEFAULTS.upstreamTimeout),
    connectTimeout: DurationSchema.default(GATEWAY_DEFAULTS.connectTimeout),
    /**
     * Charge interactive requests to a project too (the one named in `X-Switchyard-Project`, or
     * the user's only active one), refusing them as a batch is refused; batches always are.
     */
    chargeProjects: z.boolean().default(GATEWAY_DEFAULTS.chargeProjects),
    /**
     * Gateway processes `serve` runs, sharing its port (`serve --workers` overrides it): `auto` is
     * one per core when the gateway runs alone (`--roles gateway`), 1 otherwise. More than 1 needs
     * PostgreSQL; the scheduler and the batch worker stay in the primary process.
     */
    workers: z.union([z.int().min(1).max(256), z.literal("auto")]).default(GATEWAY_DEFAULTS.workers),
    limits: z
      .strictObject({
        /** Per user (the reference: 60k tokens per minute). */
        user: UserLimitSchema.default(GATEWAY_DEFAULTS.limits.user),
        /** Per model, all users together (the reference: 100k tokens per minute). */
        model: LimitSchema.default(GATEWAY_DEFAULTS.limits.model),
        /** Per-model overrides of `model`, by model id. */
        models: z.record(z.string(), LimitSchema).default({}),
        /** Per-group overrides of `user`; a user in several groups gets the most generous. */
        groups: z.record(z.string(), GroupLimitSchema).default({}),
        /** Most choices one request may ask for (`n`, `best_of`; 400 beyond). */
        maxChoices: z.int().positive().default(GATEWAY_DEFAULTS.limits.maxChoices),
        /** Most tokens one request may ask to generate (`max_tokens`, `max_completion_tokens`, `max_output_tokens`; 400 beyond); also the estimate for a request without one to a model without `contextLength`. */
        maxOutputTokens: z.int().positive().default(GATEWAY_DEFAULTS.limits.maxOutputTokens),
      })
      .default(GATEWAY_DEFAULTS.limits),
  })
  .default(GATEWAY_DEFAULTS);
export type GatewaySettings = z.output<typeof GatewaySettingsSchema>;

// ---- batches ---------------------------------------------------------------------------

const BATCH_DEFAULTS = {
  maxLines: 150_000,
  maxFileBytes: 200 * 1024 * 1024,
  activePerUser: 1,
  runInServe: true,
  maxRunningBatches: 4,
  replicaConcurrency: 64,
  interactiveShare: 0.25,
  initialConcurrency: 8,
  retries: 5,
  requestTimeout: 600,
  checkpointInterval: 1,
  completionWindows: ["24h"],
  maxLineBytes: 10 * 1024 * 1024,
  maxStorageBytesPerUser: 10 * 1024 * 1024 * 1024,
  fileExpiry: 30 * 86_400,
  fileCleanupInterval: 600,
  fileAccess: "service" as "service" | "world" | "posix",
};

export const BatchSettingsSchema = z
  .strictObject({
    /** Most request lines in one batch file (the reference service: 150,000). */
    maxLines: z.int().positive().default(BATCH_DEFAULTS.maxLines),
    /** Largest batch input file, uploaded or on shared storage. */
    maxFileBytes: z.int().positive().default(BATCH_DEFAULTS.maxFileBytes),
    /** Batches a user may have validating or running at once (429 beyond). */
    activePerUser: z.int().positive().default(BATCH_DEFAULTS.activePerUser),
    /** Where uploaded files and the OpenAI API's output files live; default `<data-dir>/files`. */
    filesDir: z.string().min(1).optional(),
    /** Run the batch worker inside `serve` (otherwise run `switchyard batch-worker` next to it). */
    runInServe: z.boolean().default(BATCH_DEFAULTS.runInServe),
    /** Batches one worker runs at the same time; the rest wait their turn. */
    maxRunningBatches: z.int().positive().default(BATCH_DEFAULTS.maxRunningBatches),
    /** Requests one model server (replica) handles well at once (vLLM's max_num_seqs, say). */
    replicaConcurrency: z.int().positive().default(BATCH_DEFAULTS.replicaConcurrency),
    /** Share of each replica's concurrency batches leave to interactive users. */
    interactiveShare: z.number().min(0).max(0.95).default(BATCH_DEFAULTS.interactiveShare),
    /** Concurrency a batch starts at before it adapts (grows while latency holds, backs off on 429/503/timeouts). */
    initialConcurrency: z.int().positive().default(BATCH_DEFAULTS.initialConcurrency),
    /** Attempts after the first for a transient failure (429, 5xx, connection, timeout), with backoff. */
    retries: z.int().min(0).max(20).default(BATCH_DEFAULTS.retries),
    /** Longest wait for one request's answer. */
    requestTimeout: DurationSchema.default(BATCH_DEFAULTS.requestTimeout),
    /** How often results are synced to disk and the resume point saved. */
    checkpointInterval: DurationSchema.default(BATCH_DEFAULTS.checkpointInterval),
    /**
     * Whose rights decide which files on shared storage a batch may read and where it may write
     * (the reference API's paths): `posix` (each user's system account: mode bits and groups;
     * for shared installs), `world` (world-readable inputs only; outputs in the user's own
     * folder the service makes), `service` (the service account's: single-user installs only).
     */
    fileAccess: z.enum(["service", "world", "posix"]).default(BATCH_DEFAULTS.fileAccess),
    /** `completion_window` values accepted. */
    completionWindows: z
      .array(z.string().regex(/^\d+[hd]$/))
      .min(1)
      .default(BATCH_DEFAULTS.completionWindows),
    /** Longest line of a batch input file (a line is refused, never read whole, beyond it). */
    maxLineBytes: z.int().positive().default(BATCH_DEFAULTS.maxLineBytes),
    /** Bytes of files (uploads and batch outputs kept by the Files API) one user may hold; uploads beyond are refused before they are stored. */
    maxStorageBytesPerUser: z.int().positive().default(BATCH_DEFAULTS.maxStorageBytesPerUser),
    /** How long an uploaded file or a batch's output file is kept (an upload's `expires_after` may ask for less); then it is deleted. */
    fileExpiry: DurationSchema.default(BATCH_DEFAULTS.fileExpiry),
    /** How often expired files and abandoned partial uploads are removed. */
    fileCleanupInterval: DurationSchema.default(BATCH_DEFAULTS.fileCleanupInterval),
  })
  .default(BATCH_DEFAULTS);
export type BatchSettings = z.output<typeof BatchSettingsSchema>;

// ---- authentication ------------------------------------------------------------------

export const OidcIssuerSchema = z.strictObject({
  /** The issuer URL, exactly as it appears in its tokens' `iss`. */
  issuer: z.url(),
  /** Shown on the dashboard's sign-in button. */
  displayName: z.string().optional(),
  /** The `aud` its access tokens must carry for Switchyard. */
  audience: z.string().min(1),
  /** JWKS location; default: the issuer's discovery document. */
  jwksUri: z.url().optional(),
  /** RFC 7662 introspection for opaque tokens. */
  introspection: z
    .strictObject({
      endpoint: z.url(),
      clientId: z.string().min(1),
      /** Environment variable holding the client secret (never the secret itself). */
      clientSecretEnv: z.string().min(1),
    })
    .optional(),
  /** Claim that lists the user's groups (synced to Switchyard groups). */
  groupsClaim: z.string().default("groups"),
  /** Claim used as the username when the user is first seen. */
  usernameClaim: z.string().default("preferred_username"),
  /** Cache verified and introspected tokens at most this long. */
  cacheTtl: DurationSchema.default(300),
  /**
   * Offer "Sign in with <displayName>" on the dashboard: the authorization code flow with PKCE,
   * as a public client registered at the provider with the redirect URI `<public URL>/admin/auth/callback`.
   */
  dashboard: z
    .strictObject({
      clientId: z.string().min(1),
      scope: z.string().default("openid profile"),
      /** RFC 8707 resource indicator to ask for, for providers that choose the token's audience from it. */
      resource: z.url().optional(),
      /** Origins besides the issuer's that the browser must reach (a token endpoint on another host); the dashboard's CSP allows them. */
      connectOrigins: z.array(z.url()).default([]),
    })
    .optional(),
});
export type OidcIssuerConfig = z.output<typeof OidcIssuerSchema>;

const AUTH_DEFAULTS = {
  accessTokenTtl: 48 * 3600,
  refreshLifetime: 7 * 86400,
  deviceCodeTtl: 600,
  devicePollInterval: 5,
  principalCacheTtl: 5,
  loginAttempts: { max: 5, window: 900 },
  deviceCodeRequests: { max: 60, window: 600 },
  cleanupInterval: 3600,
  apiKeyDefaultExpiryDays: 90,
  oidc: [],
};

export const AuthSchema = z
  .strictObject({
    /** The public URL tokens are issued for (`iss`); default: the URL `serve` listens on. Set it when several instances share a load balancer. */
    issuer: z.url().optional(),
    /** Access token lifetime (the reference service: 48 h). */
    accessTokenTtl: DurationSchema.default(AUTH_DEFAULTS.accessTokenTtl),
    /** Refresh works until this long after the last interactive login (absolute, not sliding). */
    refreshLifetime: DurationSchema.default(AUTH_DEFAULTS.refreshLifetime),
    deviceCodeTtl: DurationSchema.default(AUTH_DEFAULTS.deviceCodeTtl),
    devicePollInterval: DurationSchema.default(AUTH_DEFAULTS.devicePollInterval),
    /** How long a resolved credential is trusted before it is checked again (revocations take effect within it). */
    principalCacheTtl: DurationSchema.default(AUTH_DEFAULTS.principalCacheTtl),
    /** Failed sign-ins allowed per user and per address within the window before 429. */
    loginAttempts: z
      .strictObject({ max: z.int().positive().default(5), window: DurationSchema.default(900) })
      .default(AUTH_DEFAULTS.loginAttempts),
    /** Device logins one address may start within the window (`POST /auth/device/code`) before 429. */
    deviceCodeRequests: z
      .strictObject({ max: z.int().positive().default(60), window: DurationSchema.default(600) })
      .default(AUTH_DEFAULTS.deviceCodeRequests),
    /** How often expired device codes, refresh tokens and revoked-token entries are deleted. */
    cleanupInterval: DurationSchema.default(AUTH_DEFAULTS.cleanupInterval),
    /**
     * Days until a new API key expires when its creator names no expiry (the dashboard, `sy keys
     * create`, `switchyard keys create`, `POST /v1/keys`); 0: such keys never expire.
     */
    apiKeyDefaultExpiryDays: z.int().min(0).max(3650).default(AUTH_DEFAULTS.apiKeyDefaultExpiryDays),
    oidc: z.array(OidcIssuerSchema).default([]),
  })
  .default(AUTH_DEFAULTS);
export type AuthConfig = z.output<typeof AuthSchema>;

// ---- HTTP and the control plane ------------------------------------------------------

/** A proxy address, subnet, or one of Express's names for address ranges. */
const ProxyAddress = z.union([
  z.ipv4(),
  z.ipv6(),
  z.cidrv4(),
  z.cidrv6(),
  z.enum(["loopback", "linklocal", "uniquelocal"]),
]);

export const HttpSettingsSchema = z
  .strictObject({
    /**
     * Which reverse proxies' `X-Forwarded-For` to believe when deciding a client's address (sign-in
     * throttling, device-login limits): `false` (none, the default: the peer address counts), a
     * number of proxy hops in front of Switchyard, or the proxies' addresses and subnets. `true`
     * is refused: it would let any client name its own address.
     */
    trustProxy: z.union([z.literal(false), z.int().positive(), z.array(ProxyAddress).min(1)]).default(false),
  })
  .default({ trustProxy: false });
export type HttpSettings = z.output<typeof HttpSettingsSchema>;

const CONTROL_PLANE_DEFAULTS = { maxBodyBytes: 1024 * 1024, eventStreamsPerUser: 8 };

export const ControlPlaneSettingsSchema = z
  .strictObject({
    /** Largest tRPC request body (413 beyond, refused before it is read). */
    maxBodyBytes: z.int().positive().default(CONTROL_PLANE_DEFAULTS.maxBodyBytes),
    /** Live event streams (the dashboard's, one per tab) one user may hold open on one instance (429 beyond). */
    eventStreamsPerUser: z.int().positive().default(CONTROL_PLANE_DEFAULTS.eventStreamsPerUser),
  })
  .default(CONTROL_PLANE_DEFAULTS);
export type ControlPlaneSettings = z.output<typeof ControlPlaneSettingsSchema>;
// ---- metrics ---------------------------------------------------------------------------

const METRICS_DEFAULTS = { public: false, tokenEnv: "SWITCHYARD_METRICS_TOKEN" };

/** Who may read `GET /metrics`: private by default (it names models, routes and volumes). */
export const MetricsSettingsSchema = z
  .strictObject({
    /** Serve /metrics on the main port to anyone (only behind a network that keeps others out). */
    public: z.boolean().default(METRICS_DEFAULTS.public),
    /** Environment variable holding the scrape token: a scraper sends `Authorization: Bearer <token>` (admins' credentials work too). */
    tokenEnv: z.string().min(1).default(METRICS_DEFAULTS.tokenEnv),
    /** Also serve /metrics on this separate address (`host:port`, e.g. `127.0.0.1:9464`), without credentials unless a scrape token is set. */
    listen: z
      .string()
      .regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:/]+):\d{1,5}$/, "use host:port, e.g. 127.0.0.1:9464")
      .optional(),
  })
  .default(METRICS_DEFAULTS);
export type MetricsSettings = z.output<typeof MetricsSettingsSchema>;

const RawConfigSchema = z.strictObject({
  /** The file format version. */
  version: z.literal(1).default(1),
  /** The cluster chosen for a model on several clusters when none is live. */
  defaultCluster: Slug.optional(),
  defaults: DefaultsSchema,
  simulator: SimulatorSettingsSchema,
  scheduler: SchedulerSettingsSchema,
  gateway: GatewaySettingsSchema,
  auth: AuthSchema,
  http: HttpSettingsSchema,
  controlPlane: ControlPlaneSettingsSchema,
  metrics: MetricsSettingsSchema,
  batch: BatchSettingsSchema,
  clusters: z.array(ClusterSchema).min(1, "at least one cluster is needed"),
  models: z.array(ModelSchema).default([]),
});
type RawConfig = z.output<typeof RawConfigSchema>;

/** A model with every default filled in. */
export interface ResolvedModel extends ModelConfig {
  expectedLoadTime: number;
  idleTtl: number;
  maxLifetime: number;
  minReplicas: number;
  maxReplicas: number;
  replicaConcurrency: number;
}

export interface SwitchyardConfig extends Omit<RawConfig, "models"> {
  models: ResolvedModel[];
}

function checkReferences(config: RawConfig, ctx: z.RefinementCtx): void {
  const clusters = new Map<string, ClusterConfig>();
  config.clusters.forEach((cluster, ci) => {
    if (clusters.has(cluster.name)) {
      ctx.addIssue({ code: "custom", path: ["clusters", ci, "name"], message: `duplicate cluster '${cluster.name}'` });
    }
    clusters.set(cluster.name, cluster);
    const nodeNames = new Set<string>();
    cluster.nodes.forEach((node, ni) => {
      if (nodeNames.has(node.name)) {
        ctx.addIssue({
          code: "custom",
          path: ["clusters", ci, "nodes", ni, "name"],
          message: `duplicate node '${node.name}'`,
        });
      }
      nodeNames.add(node.name);
    });
    const frameworkNames = new Set<string>();
    cluster.frameworks.forEach((fw, fi) => {
      if (frameworkNames.has(fw.name)) {
        ctx.addIssue({
          code: "custom",
          path: ["clusters", ci, "frameworks", fi],
          message: `duplicate framework '${fw.name}'`,
        });
      }
      frameworkNames.add(fw.name);
    });
    if (cluster.status === "active" && cluster.nodes.length === 0) {
      ctx.addIssue({
        code: "custom",
        path: ["clusters", ci, "nodes"],
        message: "an active cluster needs at least one node",
      });
    }
  });

  if (config.defaultCluster !== undefined && !clusters.has(config.defaultCluster)) {
    ctx.addIssue({ code: "custom", path: ["defaultCluster"], message: `unknown cluster '${config.defaultCluster}'` });
  }

  const seen = new Set<string>();
  const names = new Map<string, string>(); // id or alias -> model id, to catch alias clashes
  const hotGpusByNode = new Map<string, number>();
  config.models.forEach((model, mi) => {
    const at = (...rest: (string | number)[]) => ["models", mi, ...rest];
    const key = `${model.cluster}/${model.id}`;
    if (seen.has(key)) {
      ctx.addIssue({
        code: "custom",
        path: at("id"),
        message: `model '${model.id}' is listed twice on cluster '${model.cluster}'`,
      });
    }
    seen.add(key);
    for (const name of [model.id, ...model.aliases]) {
      const owner = names.get(name);
      if (owner !== undefined && owner !== model.id) {
        ctx.addIssue({ code: "custom", path: at("aliases"), message: `'${name}' already names model '${owner}'` });
      }
      names.set(name, model.id);
    }
    if (model.engine.type !== "external") {
      const keyFlag = model.engine.args.find((arg) => /^--api-key(-file)?(=|$)/.test(arg));
      if (keyFlag) {
        ctx.addIssue({
          code: "custom",
          path: at("engine", "args"),
          message: `remove '${keyFlag.split("=")[0]}': Switchyard gives every deployment its own generated key`,
        });
      }
    }
    if (new Set(model.capabilities).size !== model.capabilities.length) {
      ctx.addIssue({ code: "custom", path: at("capabilities"), message: "capabilities are listed twice" });
    }

    const cluster = clusters.get(model.cluster);
    if (!cluster) {
      ctx.addIssue({
        code: "custom",
        path: at("cluster"),
        message: `unknown cluster '${model.cluster}' (clusters: ${[...clusters.keys()].join(", ")})`,
      });
      return;
    }
    const framework = cluster.frameworks.find((fw) => fw.name === model.framework);
    if (!framework) {
      ctx.addIssue({
        code: "custom",
        path: at("framework"),
        message: `cluster '${cluster.name}' has no framework '${model.framework}' (it has: ${cluster.frameworks.map((fw) => fw.name).join(", ") || "none"})`,
      });
    } else {
      const served = new Set<Capability>(framework.endpoints.map((endpoint) => ENDPOINT_CAPABILITY[endpoint]));
      const needs = model.capabilities.filter((cap) => ["chat", "completions", "embedding"].includes(cap));
      const missing = needs.filter((cap) => !served.has(cap));
      if (missing.length > 0) {
        ctx.addIssue({
          code: "custom",
          path: at("framework"),
          message: `framework '${framework.name}' on '${cluster.name}' has no endpoint for: ${missing.join(", ")}`,
        });
      }
    }

    if (model.placement === "dynamic" && (model.minReplicas ?? 0) > 0) {
      ctx.addIssue({
        code: "custom",
        path: at("minReplicas"),
        message:
          "a dynamic model starts on demand and stops after idleTtl (minReplicas 0); make it hot to keep replicas",
      });
    }
    if (model.placement === "hot" && model.minReplicas === 0) {
      ctx.addIssue({
        code: "custom",
        path: at("minReplicas"),
        message: "a hot model keeps at least one replica; make it dynamic to scale to zero",
      });
    }
    if (model.maxReplicas !== undefined && model.maxReplicas < (model.minReplicas ?? 1)) {
      ctx.addIssue({
        code: "custom",
        path: at("maxReplicas"),
        message: `maxReplicas (${model.maxReplicas}) is below minReplicas (${model.minReplicas})`,
      });
    }
    const role = model.placement === "hot" ? "hot" : "rotating";
    const candidates = cluster.nodes.filter((node) => node.role === role);
    if (cluster.status === "active" && candidates.length === 0) {
      ctx.addIssue({
        code: "custom",
        path: at("placement"),
        message: `cluster '${cluster.name}' has no ${role} nodes for a ${model.placement} model`,
      });
    } else if (candidates.length > 0 && Math.max(...candidates.map((n) => n.gpus)) < model.gpus) {
      ctx.addIssue({
        code: "custom",
        path: at("gpus"),
        message: `needs ${model.gpus} GPUs but the largest ${role} node of '${cluster.name}' has ${Math.max(...candidates.map((n) => n.gpus))}`,
      });
    }
    if (model.node !== undefined) {
      const node = cluster.nodes.find((n) => n.name === model.node);
      if (model.placement !== "hot") {
        ctx.addIssue({ code: "custom", path: at("node"), message: "only hot models are pinned to a node" });
      } else if (!node) {
        ctx.addIssue({
          code: "custom",
          path: at("node"),
          message: `cluster '${cluster.name}' has no node '${model.node}'`,
        });
      } else if (node.role !== "hot") {
        ctx.addIssue({
          code: "custom",
          path: at("node"),
          message: `node '${node.name}' is a rotating node, not a hot one`,
        });
      } else {
        const key = `${cluster.name}/${node.name}`;
        const used = (hotGpusByNode.get(key) ?? 0) + model.gpus * (model.minReplicas ?? 1);
        hotGpusByNode.set(key, used);
        if (used > node.gpus) {
          ctx.addIssue({
            code: "custom",
            path: at("node"),
            message: `hot models pinned to '${node.name}' need ${used} GPUs, the node has ${node.gpus}`,
          });
        }
      }
    }
  });
}

/** A model's replica bounds with the defaults filled in (hot: at least 1; dynamic: from 0). */
function replicasOf(
  model: ModelConfig,
  defaultConcurrency: number,
): { minReplicas: number; maxReplicas: number; replicaConcurrency: number } {
  const minReplicas = model.minReplicas ?? (model.placement === "hot" ? 1 : 0);
  return {
    minReplicas,
    maxReplicas: model.maxReplicas ?? Math.max(1, minReplicas),
    replicaConcurrency: model.replicaConcurrency ?? defaultConcurrency,
  };
}

export const ConfigSchema = RawConfigSchema.superRefine(checkReferences).transform(
  (raw): SwitchyardConfig => ({
    ...raw,
    models: raw.models.map((model) => ({
      ...model,
      expectedLoadTime: model.expectedLoadTime ?? raw.defaults.expectedLoadTime,
      idleTtl: model.idleTtl ?? raw.defaults.idleTtl,
      maxLifetime: model.maxLifetime ?? raw.defaults.maxLifetime,
      ...replicasOf(model, raw.defaults.replicaConcurrency),
    })),
  }),
);

/** The config as written in the file (before defaults are applied). */
export type SwitchyardConfigInput = z.input<typeof RawConfigSchema>;
