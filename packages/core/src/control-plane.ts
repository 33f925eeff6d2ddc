import { z } from "zod";
import { CapabilitySchema } from "./capabilities";
import { BatchObjectSchema, BatchStatusSchema, ProjectNameSchema } from "./openai/batches";
import {
  ClusterStatusSchema,
  DeploymentStateSchema,
  ModelStatusFilterSchema,
  ModelStatusSchema,
  ReplicaCountsSchema,
} from "./status";

/**
 * The control plane's contract (the tRPC procedures of packages/api, used by the dashboard and
 * the SDK): inputs are strict so a misspelt field is a 400 naming it, outputs are plain JSON
 * (timestamps as ISO 8601 strings, no transformer needed on the wire).
 *
 * Over 400 lines on purpose: declarations only, one block per router in the order of
 * packages/api/src/routers, so a procedure's input and output sit together.
 */

const Timestamp = z.string().describe("ISO 8601 timestamp");
const Name = z.string().trim().min(1).max(256);

export const UsernameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, "use 1-64 letters, digits, '.', '_', '@' or '-'");
export const GroupNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, "use 1-64 letters, digits, '.', '_', ':' or '-'");
export const RoleSchema = z.enum(["user", "admin"]);

export const API_KEY_SCOPES = ["inference", "batch", "keys", "admin"] as const;
export const ApiKeyScopeSchema = z.enum(API_KEY_SCOPES);

/** A model on a cluster, as operator actions name it. */
export const ModelRefSchema = z.strictObject({ cluster: Name, model: Name });
export type ModelRef = z.infer<typeof ModelRefSchema>;

// ---- session ---------------------------------------------------------------------------

export const SessionSchema = z.object({
  id: z.string(),
  username: z.string(),
  role: RoleSchema,
  groups: z.array(z.string()),
  via: z.enum(["access_token", "api_key", "oidc"]),
  scopes: z.array(ApiKeyScopeSchema),
  expiresAt: Timestamp.nullable(),
});
export type Session = z.infer<typeof SessionSchema>;

export const SignInOptionsSchema = z.object({
  /** The password grant at POST /auth/token. */
  password: z.boolean(),
  /** Providers the dashboard can sign in with (authorization code + PKCE). */
  oidc: z.array(
    z.object({
      issuer: z.string(),
      displayName: z.string(),
      clientId: z.string(),
      scope: z.string(),
      /** The `resource` parameter to ask for (RFC 8707), when the provider needs one for the audience. */
      resource: z.string().nullable(),
    }),
  ),
});
export type SignInOptions = z.infer<typeof SignInOptionsSchema>;

// ---- clusters and nodes ----------------------------------------------------------------

export const ClusterSummarySchema = z.object({
  name: z.string(),
  displayName: z.string(),
  /** The effective status: an operator's maintenance window wins over the config. */
  status: ClusterStatusSchema,
  reason: z.string().nullable(),
  /** Set while an operator's maintenance window is open. */
  maintenanceSince: Timestamp.nullable(),
  launcher: z.string(),
  nodes: z.int(),
  gpus: z.int(),
  gpusUsed: z.int(),
  models: z.int(),
  liveModels: z.int(),
});
export type ClusterSummary = z.infer<typeof ClusterSummarySchema>;

export const SetMaintenanceInputSchema = z.strictObject({
  cluster: Name,
  maintenance: z.boolean(),
  reason: z.string().trim().max(500).optional(),
});

export const NodeViewSchema = z.object({
  cluster: z.string(),
  name: z.string(),
  role: z.enum(["hot", "rotating"]),
  gpus: z.int(),
  gpusUsed: z.int(),
  gpusFree: z.int(),
  deployments: z.array(
    z.object({ deploymentId: z.string(), model: z.string().nullable(), state: DeploymentStateSchema, gpus: z.int() }),
  ),
});
export type NodeView = z.infer<typeof NodeViewSchema>;

export const ClusterFilterSchema = z.strictObject({ cluster: Name.optional() }).default({});

// ---- models ----------------------------------------------------------------------------

export const ModelSummarySchema = z.object({
  id: z.string(),
  cluster: z.string(),
  framework: z.string(),
  family: z.string().nullable(),
  capabilities: z.array(CapabilitySchema),
  /** The reference service's marks: B (batch), T (tools), R (reasoning). */
  marks: z.string(),
  placement: z.enum(["hot", "dynamic"]),
  engine: z.string(),
  gpus: z.int(),
  contextLength: z.int().nullable(),
  aliases: z.array(z.string()),
  allowedGroups: z.array(z.string()),
  status: ModelStatusSchema,
  queuePosition: z.int().nullable(),
  etaSeconds: z.number().nullable(),
  reason: z.string().nullable(),
  pinned: z.boolean(),
  deploymentId: z.string().nullable(),
  node: z.string().nullable(),
  /** Its replicas by state now, and how many it may have (as `GET /v1/models` says). */
  replicas: ReplicaCountsSchema,
});
export type ModelSummary = z.infer<typeof ModelSummarySchema>;

export const ModelsListInputSchema = z
  .strictObject({ status: ModelStatusFilterSchema.default("all"), cluster: Name.optional() })
  .default({ status: "all" });

export const TransitionSchema = z.object({
  deploymentId: z.string(),
  from: DeploymentStateSchema,
  to: DeploymentStateSchema,
  cause: z.string(),
  at: Timestamp,
});
export type Transition = z.infer<typeof TransitionSchema>;

export const ModelHistoryInputSchema = ModelRefSchema.extend({ limit: z.int().min(1).max(500).default(100) });

// ---- deployments -----------------------------------------------------------------------

export const DeploymentSummarySchema = z.object({
  id: z.string(),
  cluster: z.string(),
  model: z.string().nullable(),
  node: z.string().nullable(),
  state: DeploymentStateSchema,
  reason: z.string().nullable(),
  launcher: z.string(),
  launcherJobId: z.string().nullable(),
  /** `host:port` of the model server, once known. */
  address: z.string().nullable(),
  gpus: z.int(),
  inFlight: z.int(),
  pinned: z.boolean(),
  queuedAt: Timestamp.nullable(),
  startedAt: Timestamp.nullable(),
  liveAt: Timestamp.nullable(),
  drainingAt: Timestamp.nullable(),
  createdAt: Timestamp,
});
export type DeploymentSummary = z.infer<typeof DeploymentSummarySchema>;

export const DeploymentsListInputSchema = z
  .strictObject({ cluster: Name.optional(), state: DeploymentStateSchema.optional() })
  .default({});

export const DeploymentIdInputSchema = z.strictObject({
  deploymentId: z.string().regex(/^dep_[0-9a-f]{1,64}$/, "a deployment id looks like dep_0123abcd"),
});

/** What a start or restart leaves the model at: its status, queue position and ETA. */
export const AvailabilitySchema = z.object({
  cluster: z.string(),
  model: z.string(),
  status: ModelStatusSchema,
  deploymentId: z.string().nullable(),
  queuePosition: z.int().nullable(),
  etaSeconds: z.number().nullable(),
  reason: z.string().nullable(),
});
export type AvailabilityView = z.infer<typeof AvailabilitySchema>;

/** A deployment changed state (the `events.deployments` subscription). */
export const DeploymentEventSchema = z.object({
  deploymentId: z.string(),
  cluster: z.string(),
  model: z.string().nullable(),
  from: DeploymentStateSchema,
  to: DeploymentStateSchema,
  cause: z.string(),
  at: Timestamp,
});
export type DeploymentEventView = z.infer<typeof DeploymentEventSchema>;

// ---- jobs (the reference service's jobs view) ------------------------------------------

/** One deployment in the jobs view. */
export const JobEntrySchema = z.object({
  job_id: z.string(),
  models: z.array(z.string()),
  framework: z.string().nullable(),
  state: DeploymentStateSchema,
  model_status: z.string(),
  node: z.string().nullable(),
  host: z.string().nullable(),
  gpus: z.int(),
  launcher: z.string(),
  launcher_job_id: z.string().nullable(),
  start_time: Timestamp,
  live_since: Timestamp.nullable(),
  reason: z.string().nullable(),
  in_flight: z.int(),
  queue_position: z.int().nullable().optional(),
  eta_seconds: z.number().nullable().optional(),
  /**
   * Queued only: when its server should start (ISO 8601): the launcher's estimate for a job in
   * its queue (Slurm's `squeue --start`), else when the ETA says it is ready; null when unknown.
   */
  estimated_start: Timestamp.nullable().optional(),
  /** Which replica of its model this is, 1 for the first (the scheduler's slot + 1). */
  replica: z
    .int()
    .positive()
    .describe("Which replica of its model this job is, counted from 1 (the scheduler's replica slot + 1)"),
  /** How many replicas its model may have (`maxReplicas`); null when the model is not the viewer's to see. */
  max_replicas: z
    .int()
    .positive()
    .nullable()
    .describe("How many replicas its model may have (maxReplicas); null when the model is not shown to the caller"),
});

export const JobsViewSchema = z.object({
  cluster: z.string(),
  status: z.enum(["active", "unavailable"]),
  status_reason: z.string().nullable(),
  running: z.array(JobEntrySchema),
  queued: z.array(JobEntrySchema),
  others: z.array(JobEntrySchema),
  free_nodes: z.array(z.string()),
  nodes: z.array(
    z.object({
      name: z.string(),
      role: z.enum(["hot", "rotating"]),
      gpus: z.int(),
      gpus_free: z.int(),
      deployments: z.array(
        z.object({ job_id: z.string(), model: z.string().nullable(), state: DeploymentStateSchema, gpus: z.int() }),
      ),
    }),
  ),
});
export type JobsView = z.infer<typeof JobsViewSchema>;

export const JobsInputSchema = z.strictObject({ cluster: Name });

// ---- batches --------------------------------------------------------------------------

/**
 * A batch as the control plane shows it: the OpenAI batch object (`created_at` and the other
 * `*_at` fields stay epoch seconds, as `GET /v1/batches` has them) plus whose it is and which
 * front door made it. `resultsFile`/`errorsFile` are the paths on shared storage of a
 * reference-API batch (its owner named them); OpenAI batches have `output_file_id` instead.
 */
export const BatchSummarySchema = BatchObjectSchema.extend({
  owner: z.string(),
  api: z.enum(["openai", "reference"]),
  cluster: z.string(),
  resultsFile: z.string().nullable(),
  errorsFile: z.string().nullable(),
});
export type BatchSummary = z.infer<typeof BatchSummarySchema>;

export const BatchesListInputSchema = z
  .strictObject({
    /** Only this user's batches (admins; anyone may name themselves). */
    user: UsernameSchema.optional(),
    /** OpenAI statuses to keep; `active` is everything not yet ended. */
    status: z.union([BatchStatusSchema, z.literal("active")]).optional(),
    limit: z.int().min(1).max(500).default(100),
  })
  .default({ limit: 100 });
export type BatchesListInput = z.infer<typeof BatchesListInputSchema>;

export const BatchIdInputSchema = z.strictObject({
  id: z.string().regex(/^batch_[A-Za-z0-9_-]{1,64}$/, "a batch id looks like batch_0123abcd"),
});

// ---- users and groups ------------------------------------------------------------------

export const UserSummarySchema = z.object({
  id: z.string(),
  username: z.string(),
  role: RoleSchema,
  groups: z.array(z.string()),
  disabled: z.boolean(),
  /** The external issuer, for users who sign in through OIDC. */
  issuer: z.string().nullable(),
  createdAt: Timestamp,
  lastLoginAt: Timestamp.nullable(),
  activeKeys: z.int(),
});
export type UserSummary = z.infer<typeof UserSummarySchema>;

export const CreateUserInputSchema = z.strictObject({
  username: UsernameSchema,
  /** Omit to have one generated (returned once). */
  password: z.string().min(12, "use at least 12 characters").max(200).optional(),
  role: RoleSchema.default("user"),
  groups: z.array(GroupNameSchema).max(100).default([]),
});
export const CreateUserOutputSchema = z.object({
  user: UserSummarySchema,
  /** The generated password, shown this once; null when one was given. */
  generatedPassword: z.string().nullable(),
});

export const SetRoleInputSchema = z.strictObject({ username: UsernameSchema, role: RoleSchema });
export const SetGroupsInputSchema = z.strictObject({
  username: UsernameSchema,
  groups: z.array(GroupNameSchema).max(100),
});

export const GroupSummarySchema = z.object({
  name: z.string(),
  description: z.string().nullable(),
  members: z.array(z.object({ username: z.string(), source: z.string() })),
  /** Models and clusters the config restricts to this group. */
  models: z.array(z.string()),
  clusters: z.array(z.string()),
});
export type GroupSummary = z.infer<typeof GroupSummarySchema>;

export const GroupMemberInputSchema = z.strictObject({ group: GroupNameSchema, username: UsernameSchema });

// ---- projects (allocations) --------------------------------------------------------------

const TokenCount = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
const When = z.iso.datetime({ offset: true });

/**
 * Whether work can be charged to a project now: `active`, or why not (switched off, before
 * its window, after it, or its whole budget spent).
 */
export const ProjectStateSchema = z.enum(["active", "inactive", "not_started", "ended", "exhausted"]);
export type ProjectState = z.infer<typeof ProjectStateSchema>;

export const ProjectModelLimitSchema = z.strictObject({ model: Name, tokenLimit: TokenCount });

export const ProjectSummarySchema = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  /** Every user is a member (the install's `default` project). */
  open: z.boolean(),
  /** The admin's switch; `state` says whether the project can be charged now. */
  active: z.boolean(),
  state: ProjectStateSchema,
  /** Prompt + completion tokens it may use in all; null: unlimited. */
  tokenBudget: z.number().nullable(),
  /** Tokens of the usage charged to it so far. */
  spent: z.number(),
  validFrom: Timestamp.nullable(),
  validUntil: Timestamp.nullable(),
  members: z.object({ users: z.array(z.string()), groups: z.array(z.string()) }),
  modelLimits: z.array(z.object({ model: z.string(), tokenLimit: z.number(), spent: z.number() })),
  createdAt: Timestamp,
});
export type ProjectSummary = z.infer<typeof ProjectSummarySchema>;

function windowInOrder(input: { validFrom?: string | null | undefined; validUntil?: string | null | undefined }) {
  return !input.validFrom || !input.validUntil || Date.parse(input.validFrom) < Date.parse(input.validUntil);
}
const WINDOW_ORDER = { message: "validUntil must come after validFrom", path: ["validUntil"] };

export const CreateProjectInputSchema = z
  .strictObject({
    name: ProjectNameSchema,
    description: z.string().max(1000).optional(),
    /** Omit (or null) for an unlimited budget. */
    tokenBudget: TokenCount.nullable().default(null),
    validFrom: When.nullable().optional(),
    validUntil: When.nullable().optional(),
    active: z.boolean().default(true),
    open: z.boolean().default(false),
    users: z.array(UsernameSchema).max(1000).default([]),
    groups: z.array(GroupNameSchema).max(100).default([]),
    modelLimits: z.array(ProjectModelLimitSchema).max(100).default([]),
  })
  .refine(windowInOrder, WINDOW_ORDER);
export type CreateProjectInput = z.infer<typeof CreateProjectInputSchema>;

/** Only the fields given change; `modelLimits`, when given, replaces the project's list. */
export const UpdateProjectInputSchema = z
  .strictObject({
    name: ProjectNameSchema,
    description: z.string().max(1000).nullable().optional(),
    tokenBudget: TokenCount.nullable().optional(),
    validFrom: When.nullable().optional(),
    validUntil: When.nullable().optional(),
    active: z.boolean().optional(),
    open: z.boolean().optional(),
    modelLimits: z.array(ProjectModelLimitSchema).max(100).optional(),
  })
  .refine(windowInOrder, WINDOW_ORDER);
export type UpdateProjectInput = z.infer<typeof UpdateProjectInputSchema>;

/** A user or a group, exactly one. */
export const ProjectMemberInputSchema = z
  .strictObject({ project: ProjectNameSchema, username: UsernameSchema.optional(), group: GroupNameSchema.optional() })
  .refine((m) => (m.username === undefined) !== (m.group === undefined), {
    message: "name either a username or a group",
    path: ["username"],
  });
export type ProjectMemberInput = z.infer<typeof ProjectMemberInputSchema>;

// ---- API keys --------------------------------------------------------------------------

export const ApiKeySummarySchema = z.object({
  id: z.string(),
  name: z.string().nullable(),
  user: z.string(),
  prefix: z.string(),
  scopes: z.array(z.string()),
  createdAt: Timestamp,
  expiresAt: Timestamp.nullable(),
  revokedAt: Timestamp.nullable(),
  lastUsedAt: Timestamp.nullable(),
});
export type ApiKeySummary = z.infer<typeof ApiKeySummarySchema>;

export const KeysListInputSchema = z
  .strictObject({ all: z.boolean().default(false), includeRevoked: z.boolean().default(true) })
  .default({ all: false, includeRevoked: true });

export const CreateKeyInputSchema = z.strictObject({
  name: z.string().trim().min(1).max(100).optional(),
  /** Days until the key expires; 0: never; absent: the server's `auth.apiKeyDefaultExpiryDays`. */
  expiresDays: z.int().min(0).max(3650).optional(),
  scopes: z.array(ApiKeyScopeSchema).min(1).max(4).default(["inference", "batch"]),
});
export const CreateKeyOutputSchema = z.object({
  /** The key itself, shown this once (only its hash is stored). */
  key: z.string(),
  apiKey: ApiKeySummarySchema,
});

export const KeyIdInputSchema = z.strictObject({
  id: z.string().regex(/^key_[A-Za-z0-9_-]{1,64}$/, "a key id looks like key_AbC123"),
});

// ---- device login ----------------------------------------------------------------------

export const UserCodeInputSchema = z.strictObject({
  userCode: z.string().trim().min(4, "enter the code your terminal shows").max(20),
});
export const DeviceRequestSchema = z.object({
  userCode: z.string(),
  clientId: z.string(),
  scope: z.string(),
  requestedAt: Timestamp,
  expiresAt: Timestamp,
});
export const DeviceDecisionInputSchema = UserCodeInputSchema.extend({ approve: z.boolean() });
export const DeviceDecisionSchema = z.object({ userCode: z.string(), approved: z.boolean() });

// ---- usage -----------------------------------------------------------------------------

/** UTC buckets: a minute, 5 or 15 minutes, an hour, a day (the dashboard picks one from the range). */
export const UsageBucketSchema = z.enum(["minute", "5min", "15min", "hour", "day"]);
export type UsageBucket = z.infer<typeof UsageBucketSchema>;

/** A time window; both ends default (to: now, from: 24 h before `to` for hours, 30 days for days). */
const UsageWindow = {
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
};

export const UsageTimeseriesInputSchema = z
  .strictObject({
    ...UsageWindow,
    bucket: UsageBucketSchema.default("hour"),
    groupBy: z.enum(["model", "user", "none"]).default("model"),
    /** How many series to draw; the rest are summed into `other`. */
    limit: z.int().min(1).max(20).default(8),
    model: Name.optional(),
    /** Only the usage charged to this project (a project's spend over time: its burn-down). */
    project: ProjectNameSchema.optional(),
  })
  .default({ bucket: "hour", groupBy: "model", limit: 8 });

export const UsageTotalsSchema = z.object({
  requests: z.int(),
  errors: z.int(),
  promptTokens: z.int(),
  completionTokens: z.int(),
  totalTokens: z.int(),
});
export type UsageTotals = z.infer<typeof UsageTotalsSchema>;

export const UsageSeriesSchema = z.object({
  key: z.string(),
  label: z.string(),
  totals: UsageTotalsSchema,
  /** One point per bucket of `buckets`, in the same order (zeros included). */
  points: z.array(UsageTotalsSchema.extend({ at: Timestamp })),
});

export const UsageTimeseriesSchema = z.object({
  from: Timestamp,
  to: Timestamp,
  bucket: UsageBucketSchema,
  groupBy: z.enum(["model", "user", "none"]),
  buckets: z.array(Timestamp),
  series: z.array(UsageSeriesSchema),
  totals: UsageTotalsSchema,
});
export type UsageTimeseries = z.infer<typeof UsageTimeseriesSchema>;

export const TopUsersInputSchema = z
  .strictObject({ ...UsageWindow, limit: z.int().min(1).max(100).default(10) })
  .default({ limit: 10 });
export const TopUserSchema = UsageTotalsSchema.extend({
  userId: z.string().nullable(),
  username: z.string(),
  lastAt: Timestamp,
});

/** The usage of a window per user or per project: the dashboard's tables (and their CSV). */
export const UsageBreakdownInputSchema = z
  .strictObject({
    ...UsageWindow,
    by: z.enum(["user", "project"]).default("user"),
    limit: z.int().min(1).max(1000).default(500),
  })
  .default({ by: "user", limit: 500 });
export const UsageBreakdownRowSchema = UsageTotalsSchema.extend({
  /** The user's or project's id; null for requests charged to no project (or of a deleted user). */
  key: z.string().nullable(),
  /** The username or project name ("(no project)", "(unknown user)" when there is none). */
  label: z.string(),
});
export const UsageBreakdownSchema = z.object({
  from: Timestamp,
  to: Timestamp,
  by: z.enum(["user", "project"]),
  rows: z.array(UsageBreakdownRowSchema),
});
export type UsageBreakdown = z.infer<typeof UsageBreakdownSchema>;

/** A page cursor of the request log: the last row's time (ms since the epoch) and id. */
const RequestCursor = z.string().regex(/^\d{1,15}_\d{1,19}$/, "a cursor is the previous page's nextCursor");

/** The request log: usage rows newest first, a page at a time (keyset on time and id). */
export const UsageRequestsInputSchema = z
  .strictObject({
    limit: z.int().min(1).max(200).default(50),
    /** The `nextCursor` of the previous page (requests older than it). */
    cursor: RequestCursor.optional(),
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    /** A username (admins; a user's own rows are all they see, whatever they ask). */
    user: UsernameSchema.optional(),
    model: Name.optional(),
    /** The status class: 2xx answered, 4xx refused (the client's fault), 5xx failed. */
    status: z.enum(["2xx", "4xx", "5xx"]).optional(),
    /** Sent by tRPC's infinite queries; pages always go from newest to oldest. */
    direction: z.enum(["forward", "backward"]).optional(),
  })
  .default({ limit: 50 });
export const UsageRequestSchema = z.object({
  id: z.string(),
  at: Timestamp,
  requestId: z.string(),
  userId: z.string().nullable(),
  username: z.string(),
  model: z.string(),
  cluster: z.string(),
  route: z.string(),
  status: z.int(),
  latencyMs: z.int(),
  /** Time to first token of a streamed request; null otherwise. */
  ttftMs: z.int().nullable(),
  promptTokens: z.int(),
  completionTokens: z.int(),
  stream: z.boolean(),
  /** The project it was charged to, by name; null for none. */
  project: z.string().nullable(),
});
export type UsageRequest = z.infer<typeof UsageRequestSchema>;
export const UsageRequestPageSchema = z.object({
  entries: z.array(UsageRequestSchema),
  nextCursor: z.string().nullable(),
});

export const LatencyInputSchema = z.strictObject({ ...UsageWindow, model: Name.optional() }).default({});
const Percentiles = z.object({
  count: z.int(),
  p50: z.number().nullable(),
  p95: z.number().nullable(),
  p99: z.number().nullable(),
});
export const LatencySchema = z.object({
  from: Timestamp,
  to: Timestamp,
  overall: Percentiles,
  byModel: z.array(Percentiles.extend({ model: z.string() })),
});
export type Latency = z.infer<typeof LatencySchema>;

/** The Overview's headline figures: the last few minutes of traffic (default 10). */
export const LiveStatsInputSchema = z
  .strictObject({ minutes: z.int().min(1).max(60).default(10) })
  .default({ minutes: 10 });
export const LiveStatsSchema = z.object({
  from: Timestamp,
  to: Timestamp,
  windowSeconds: z.int(),
  requests: z.int(),
  errors: z.int(),
  requestsPerSecond: z.number(),
  /** Errors (status 400 and above) over requests, 0 to 1; null without requests. */
  errorRate: z.number().nullable(),
  /** Time to first token of successful streamed requests, in ms; null without any. */
  ttftP50Ms: z.number().nullable(),
  ttftP99Ms: z.number().nullable(),
  /** Generated (completion) tokens per second. */
  tokensPerSecond: z.number(),
  /** Batch lines waiting: in running batches, the lines not yet answered. */
  backlog: z.object({ batches: z.int(), lines: z.int() }),
  /** One point per minute of the window, oldest first (the figures' sparklines). */
  series: z.array(z.object({ at: Timestamp, requests: z.int(), errors: z.int(), tokens: z.int() })),
});
export type LiveStats = z.infer<typeof LiveStatsSchema>;

// ---- audit log -------------------------------------------------------------------------

export const AuditEntrySchema = z.object({
  id: z.string(),
  at: Timestamp,
  actor: z.object({ id: z.string().nullable(), username: z.string(), via: z.string() }),
  action: z.string(),
  target: z.object({ type: z.string(), id: z.string() }),
  details: z.record(z.string(), z.unknown()).nullable(),
});
export type AuditEntry = z.infer<typeof AuditEntrySchema>;

export const AuditListInputSchema = z
  .strictObject({
    limit: z.int().min(1).max(200).default(50),
    /** The `nextCursor` of the previous page (entries older than it). */
    cursor: z
      .string()
      .regex(/^\d{1,19}$/)
      .optional(),
    action: z.string().max(100).optional(),
    /** A username, or `cli:<account>` for changes made with the server's admin commands. */
    actor: z.string().min(1).max(100).optional(),
    /** Sent by tRPC's infinite queries; pages always go from newest to oldest. */
    direction: z.enum(["forward", "backward"]).optional(),
  })
  .default({ limit: 50 });
export const AuditPageSchema = z.object({ entries: z.array(AuditEntrySchema), nextCursor: z.string().nullable() });
