import {
  CreateProjectInputSchema,
  ProjectMemberInputSchema,
  ProjectSummarySchema,
  UpdateProjectInputSchema,
} from "@switchyard/core";
import { Projects } from "@switchyard/usage";
import { z } from "zod";
import type { ApiDeps } from "../context";
import { audit } from "../helpers";
import { adminProcedure, router } from "../trpc";

/** The projects of this process's database (stateless: one per call is as good as one per process). */
const projectsOf = (deps: ApiDeps) => new Projects(deps.db, deps.clock);

/** What a member input names, for the audit row. */
const memberOf = (input: { username?: string | undefined; group?: string | undefined }) =>
  input.username !== undefined ? { username: input.username } : { group: input.group };

/**
 * Projects (allocations): who may charge batches to what, how many tokens and when. Admins
 * only; every change is audited with what changed.
 */
export const projectsRouter = router({
  /** Every project with its members, budget, spend, per-model limits and whether it can be charged now. */
  list: adminProcedure.output(z.array(ProjectSummarySchema)).query(({ ctx }) => projectsOf(ctx.deps).list()),

  create: adminProcedure
    .input(CreateProjectInputSchema)
    .output(ProjectSummarySchema)
    .mutation(async ({ ctx, input }) => {
      const created = await projectsOf(ctx.deps).create(input);
      await audit(
        ctx,
        "projects.create",
        { type: "project", id: created.name },
        {
          tokenBudget: created.tokenBudget,
          validFrom: created.validFrom,
          validUntil: created.validUntil,
          active: created.active,
          open: created.open,
          members: created.members,
          modelLimits: created.modelLimits.map(({ model, tokenLimit }) => ({ model, tokenLimit })),
        },
      );
      return created;
    }),

  /** Change the fields given (budget, window, switch, open, description, per-model limits). */
  update: adminProcedure
    .input(UpdateProjectInputSchema)
    .output(ProjectSummarySchema)
    .mutation(async ({ ctx, input }) => {
      const { before, after } = await projectsOf(ctx.deps).update(input);
      const changed: Record<string, { from: unknown; to: unknown }> = {};
      for (const key of ["description", "tokenBudget", "validFrom", "validUntil", "active", "open"] as const) {
        if (JSON.stringify(before[key]) !== JSON.stringify(after[key]))
          changed[key] = { from: before[key], to: after[key] };
      }
      const limits = (s: typeof before) => s.modelLimits.map(({ model, tokenLimit }) => ({ model, tokenLimit }));
      if (JSON.stringify(limits(before)) !== JSON.stringify(limits(after))) {
        changed.modelLimits = { from: limits(before), to: limits(after) };
      }
      await audit(ctx, "projects.update", { type: "project", id: input.name }, changed);
      return after;
    }),

  /** Add a user or a group (a new group is created, as for `groups.addMember`). */
  addMember: adminProcedure
    .input(ProjectMemberInputSchema)
    .output(ProjectSummarySchema)
    .mutation(async ({ ctx, input }) => {
      const summary = await projectsOf(ctx.deps).addMember(input);
      await audit(ctx, "projects.addMember", { type: "project", id: input.project }, memberOf(input));
      return summary;
    }),

  removeMember: adminProcedure
    .input(ProjectMemberInputSchema)
    .output(ProjectSummarySchema)
    .mutation(async ({ ctx, input }) => {
      const summary = await projectsOf(ctx.deps).removeMember(input);
      await audit(ctx, "projects.removeMember", { type: "project", id: input.project }, memberOf(input));
      return summary;
    }),
});
