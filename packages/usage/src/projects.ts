import {
  apiError,
  type Clock,
  type CreateProjectInput,
  type ProjectMemberInput,
  type ProjectState,
  type ProjectSummary,
  SwitchyardError,
  type UpdateProjectInput,
} from "@switchyard/core";
import type { Database, Prisma, PrismaClientOrTransaction } from "@switchyard/db";

/**
 * Projects (allocations): who may charge work to what, how many tokens, and when. A batch is
 * charged to one project, chosen and checked at create time (before any of its input is read);
 * its lines' usage rows carry the project's id, and what a project has spent is the sum of
 * those rows' tokens. The control plane creates and changes projects through the same class.
 */

/** A project's row as the checks read it. */
export interface ProjectRow {
  id: string;
  name: string;
  tokenBudget: bigint | null;
  validFrom: Date | null;
  validUntil: Date | null;
  active: boolean;
  open: boolean;
  modelLimits: { model: string; tokenLimit: bigint }[];
}

/** The project a batch is charged to. */
export interface Charge {
  projectId: string;
  name: string;
}

const day = (date: Date) => date.toISOString().slice(0, 19).replace("T", " ");

/** Whether the project can be charged at `now`, leaving the budget aside (`exhausted` needs the spend). */
export function windowState(project: Pick<ProjectRow, "active" | "validFrom" | "validUntil">, now: Date): ProjectState {
  if (!project.active) return "inactive";
  if (project.validFrom && project.validFrom.getTime() > now.getTime()) return "not_started";
  if (project.validUntil && project.validUntil.getTime() <= now.getTime()) return "ended";
  return "active";
}

/** Why a project cannot be charged, in words for an error message. */
function whyNot(project: ProjectRow, state: ProjectState): string {
  switch (state) {
    case "inactive":
      return `project '${project.name}' is switched off`;
    case "not_started":
      return `project '${project.name}' starts at ${day(project.validFrom as Date)} UTC`;
    case "ended":
      return `project '${project.name}' ended at ${day(project.validUntil as Date)} UTC`;
    default:
      return `project '${project.name}' is ${state}`;
  }
}

const LIMITS = { modelLimits: { select: { model: true, tokenLimit: true } } } as const;

export class Projects {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  private get prisma() {
    return this.db.prisma;
  }

  private now(): Date {
    return new Date(this.clock.now());
  }

  /** The projects a user may charge: the open ones, and those naming them or one of their groups. */
  async memberOf(userId: string): Promise<ProjectRow[]> {
    return this.prisma.project.findMany({
      where: {
        OR: [
          { open: true },
          { members: { some: { userId } } },
          { members: { some: { group: { members: { some: { userId } } } } } },
        ],
      },
      include: LIMITS,
      orderBy: { name: "asc" },
    });
  }

  /** Tokens charged to a project (to one model of it, when given). */
  async spent(projectId: string, model?: string): Promise<number> {
    const sum = await this.prisma.usageRecord.aggregate({
      where: { projectId, ...(model !== undefined ? { model } : {}) },
      _sum: { promptTokens: true, completionTokens: true },
    });
    return Number(sum._sum.promptTokens ?? 0) + Number(sum._sum.completionTokens ?? 0);
  }

  /**
   * The project to charge a user's batch to: the one named, or the user's only active one.
   * Throws the catalogue's answer when there is none to charge (404 unknown, 403 not a member
   * or no active allocation, 400 several and none named, 429 budget spent). `model`, when
   * known, is checked against the project's limit for it.
   */
  async chargeFor(userId: string, named: string | undefined, model: string | undefined): Promise<Charge> {
    const now = this.now();
    const mine = await this.memberOf(userId);
    const usable = mine.filter((p) => windowState(p, now) === "active");
    const names = (list: ProjectRow[]) => (list.length > 0 ? list.map((p) => p.name).join(", ") : "none");
    let project: ProjectRow;
    if (named !== undefined) {
      const found = mine.find((p) => p.name === named);
      if (!found) {
        const exists = await this.prisma.project.findUnique({ where: { name: named }, select: { id: true } });
        const params = { project: named, projects: names(usable) };
        throw exists
          ? apiError("project_not_allowed", params, { param: "project" })
          : apiError("project_not_found", params, { param: "project" });
      }
      const state = windowState(found, now);
      if (state !== "active") {
        const others = usable.length > 0 ? `; you may charge ${names(usable)}` : "";
        throw apiError(
          "no_active_allocation",
          { detail: `${whyNot(found, state)}${others}. Ask an administrator to extend or reactivate it` },
          { param: "project" },
        );
      }
      project = found;
    } else if (usable.length === 1) {
      project = usable[0] as ProjectRow;
    } else if (usable.length > 1) {
      throw apiError("project_required", { projects: names(usable) }, { param: "project" });
    } else if (mine.length === 0) {
      throw apiError("no_active_allocation", {
        detail:
          "you are not a member of any project. Ask an administrator to add you (or one of your groups) to a project",
      });
    } else {
      const reasons = mine.map((p) => whyNot(p, windowState(p, now))).join("; ");
      throw apiError("no_active_allocation", {
        detail: `${reasons}. Ask an administrator to extend or reactivate one, or to add you to another`,
      });
    }
    await this.assertWithinBudget(project, model);
    return { projectId: project.id, name: project.name };
  }

  /** 429 when the project's budget (or its limit for `model`) is spent. */
  private async assertWithinBudget(project: ProjectRow, model: string | undefined): Promise<void> {
    if (project.tokenBudget !== null) {
      const spent = await this.spent(project.id);
      if (spent >= Number(project.tokenBudget)) {
        throw apiError(
          "allocation_exhausted",
          { project: project.name, spent, budget: Number(project.tokenBudget), scope: "" },
          { param: "project" },
        );
      }
    }
    const limit = model === undefined ? undefined : project.modelLimits.find((l) => l.model === model);
    if (limit && model !== undefined) {
      const spent = await this.spent(project.id, model);
      if (spent >= Number(limit.tokenLimit)) {
        throw apiError(
          "allocation_exhausted",
          { project: project.name, spent, budget: Number(limit.tokenLimit), scope: ` for model ${model}` },
          { param: "project" },
        );
      }
    }
  }

  /** Check a charge again once the batch's model is known (the OpenAI flow reads it from the file). */
  async checkModel(charge: Charge, model: string): Promise<void> {
    const project = await this.prisma.project.findUnique({ where: { id: charge.projectId }, include: LIMITS });
    if (project) await this.assertWithinBudget(project, model);
  }

  // ---- the control plane --------------------------------------------------------------

  /** Every project with its members, limits and spend, by name. */
  async list(): Promise<ProjectSummary[]> {
    const rows = await this.prisma.project.findMany({ select: { name: true }, orderBy: { name: "asc" } });
    return Promise.all(rows.map((r) => this.summary(r.name)));
  }

  async summary(name: string, db: PrismaClientOrTransaction = this.prisma): Promise<ProjectSummary> {
    const project = await db.project.findUnique({
      where: { name },
      include: {
        ...LIMITS,
        members: {
          include: { user: { select: { username: true } }, group: { select: { name: true } } },
          orderBy: { addedAt: "asc" },
        },
      },
    });
    if (!project) throw apiError("resource_not_found", { kind: "project", id: name });
    const byModel = await db.usageRecord.groupBy({
      by: ["model"],
      where: { projectId: project.id },
      _sum: { promptTokens: true, completionTokens: true },
    });
    const spentOf = (s: { promptTokens: number | null; completionTokens: number | null }) =>
      Number(s.promptTokens ?? 0) + Number(s.completionTokens ?? 0);
    const spent = byModel.reduce((total, row) => total + spentOf(row._sum), 0);
    const now = this.now();
    let state = windowState(project, now);
    if (state === "active" && project.tokenBudget !== null && spent >= Number(project.tokenBudget)) state = "exhausted";
    return {
      id: project.id,
      name: project.name,
      description: project.description,
      open: project.open,
      active: project.active,
      state,
      tokenBudget: project.tokenBudget === null ? null : Number(project.tokenBudget),
      spent,
      validFrom: project.validFrom?.toISOString() ?? null,
      validUntil: project.validUntil?.toISOString() ?? null,
      members: {
        users: project.members.flatMap((m) => (m.user ? [m.user.username] : [])),
        groups: project.members.flatMap((m) => (m.group ? [m.group.name] : [])),
      },
      modelLimits: project.modelLimits.map((l) => {
        const used = byModel.find((row) => row.model === l.model);
        return { model: l.model, tokenLimit: Number(l.tokenLimit), spent: used ? spentOf(used._sum) : 0 };
      }),
      createdAt: project.createdAt.toISOString(),
    };
  }

  async create(input: CreateProjectInput): Promise<ProjectSummary> {
    return this.prisma.$transaction(async (tx) => {
      const taken = await tx.project.findUnique({ where: { name: input.name }, select: { id: true } });
      if (taken) throw apiError("already_exists", { kind: "project", id: input.name });
      const project = await tx.project.create({
        data: {
          name: input.name,
          description: input.description ?? null,
          tokenBudget: input.tokenBudget === null ? null : BigInt(input.tokenBudget),
          validFrom: input.validFrom ? new Date(input.validFrom) : null,
          validUntil: input.validUntil ? new Date(input.validUntil) : null,
          active: input.active,
          open: input.open,
          modelLimits: {
            create: input.modelLimits.map((l) => ({ model: l.model, tokenLimit: BigInt(l.tokenLimit) })),
          },
        },
      });
      for (const username of new Set(input.users)) await addMember(tx, project.id, { username });
      for (const group of new Set(input.groups)) await addMember(tx, project.id, { group });
      return this.summary(input.name, tx);
    });
  }

  async update(input: UpdateProjectInput): Promise<{ before: ProjectSummary; after: ProjectSummary }> {
    return this.prisma.$transaction(async (tx) => {
      const before = await this.summary(input.name, tx);
      const data: Prisma.ProjectUpdateInput = {};
      if (input.description !== undefined) data.description = input.description;
      if (input.tokenBudget !== undefined)
        data.tokenBudget = input.tokenBudget === null ? null : BigInt(input.tokenBudget);
      if (input.validFrom !== undefined) data.validFrom = input.validFrom === null ? null : new Date(input.validFrom);
      if (input.validUntil !== undefined)
        data.validUntil = input.validUntil === null ? null : new Date(input.validUntil);
      if (input.active !== undefined) data.active = input.active;
      if (input.open !== undefined) data.open = input.open;
      const from = data.validFrom === undefined ? before.validFrom : (data.validFrom as Date | null)?.toISOString();
      const until = data.validUntil === undefined ? before.validUntil : (data.validUntil as Date | null)?.toISOString();
      if (from && until && Date.parse(from) >= Date.parse(until)) {
        throw apiError(
          "invalid_field",
          { param: "validUntil", detail: `must come after validFrom (${from})` },
          { param: "validUntil" },
        );
      }
      await tx.project.update({ where: { id: before.id }, data });
      if (input.modelLimits !== undefined) {
        await tx.projectModelLimit.deleteMany({ where: { projectId: before.id } });
        await tx.projectModelLimit.createMany({
          data: input.modelLimits.map((l) => ({
            projectId: before.id,
            model: l.model,
            tokenLimit: BigInt(l.tokenLimit),
          })),
        });
      }
      return { before, after: await this.summary(input.name, tx) };
    });
  }

  /** Add a user or a group (idempotent). A group that does not exist yet is created, as `users.setGroups` does. */
  async addMember(input: ProjectMemberInput): Promise<ProjectSummary> {
    return this.prisma.$transaction(async (tx) => {
      const project = await tx.project.findUnique({ where: { name: input.project }, select: { id: true } });
      if (!project) throw apiError("resource_not_found", { kind: "project", id: input.project });
      await addMember(tx, project.id, input);
      return this.summary(input.project, tx);
    });
  }

  async removeMember(input: ProjectMemberInput): Promise<ProjectSummary> {
    return this.prisma.$transaction(async (tx) => {
      const project = await tx.project.findUnique({ where: { name: input.project }, select: { id: true } });
      if (!project) throw apiError("resource_not_found", { kind: "project", id: input.project });
      const removed = await tx.projectMember.deleteMany({
        where: {
          projectId: project.id,
          ...(input.username !== undefined ? { user: { username: input.username } } : {}),
          ...(input.group !== undefined ? { group: { name: input.group } } : {}),
        },
      });
      if (removed.count === 0) {
        const who = input.username !== undefined ? `user ${input.username}` : `group ${input.group}`;
        throw apiError("resource_not_found", { kind: "project member", id: `${who} of ${input.project}` });
      }
      return this.summary(input.project, tx);
    });
  }
}

async function addMember(
  tx: PrismaClientOrTransaction,
  projectId: string,
  who: { username?: string | undefined; group?: string | undefined },
): Promise<void> {
  if (who.username !== undefined) {
    const user = await tx.user.findUnique({ where: { username: who.username }, select: { id: true } });
    if (!user) throw apiError("resource_not_found", { kind: "user", id: who.username });
    await tx.projectMember.upsert({
      where: { projectId_userId: { projectId, userId: user.id } },
      create: { projectId, userId: user.id },
      update: {},
    });
    return;
  }
  if (who.group !== undefined) {
    const group = await tx.group.upsert({ where: { name: who.group }, create: { name: who.group }, update: {} });
    await tx.projectMember.upsert({
      where: { projectId_groupId: { projectId, groupId: group.id } },
      create: { projectId, groupId: group.id },
      update: {},
    });
  }
}

/**
 * The project of interactive requests (`gateway.chargeProjects`), remembered per user, project
 * name and model for a few seconds, refusals included: the inference path must not query the
 * database per request. A budget can therefore be overrun by what a user sends within those
 * seconds (and by usage rows not yet written).
 */
export class CachedCharges {
  private readonly cache = new Map<string, { until: number; charge?: Charge; refusal?: SwitchyardError }>();

  constructor(
    private readonly projects: Projects,
    private readonly clock: Clock,
    private readonly ttlMs = 5000,
  ) {}

  async chargeFor(userId: string, named: string | undefined, model: string): Promise<Charge> {
    const key = `${userId}\n${named ?? ""}\n${model}`;
    const now = this.clock.now();
    const hit = this.cache.get(key);
    if (hit && hit.until > now) {
      if (hit.refusal) throw hit.refusal;
      return hit.charge as Charge;
    }
    if (this.cache.size >= 10_000) this.cache.clear();
    try {
      const charge = await this.projects.chargeFor(userId, named, model);
      this.cache.set(key, { until: now + this.ttlMs, charge });
      return charge;
    } catch (error) {
      if (error instanceof SwitchyardError) this.cache.set(key, { until: now + this.ttlMs, refusal: error });
      throw error;
    }
  }
}
