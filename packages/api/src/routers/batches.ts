import { actsAsAdmin } from "@switchyard/auth";
import { type BatchWithOwner, toBatchObject } from "@switchyard/batch";
import {
  ACTIVE_BATCH_STATUSES,
  apiError,
  BatchesListInputSchema,
  BatchIdInputSchema,
  type BatchSummary,
  BatchSummarySchema,
} from "@switchyard/core";
import { z } from "zod";
import { audit } from "../helpers";
import { router, scopedProcedure } from "../trpc";

/** Batch procedures need what the batch HTTP routes need: a token, or a key with the `batch` scope. */
const batchProcedure = scopedProcedure("batch");

/** Whether the caller sees everyone's batches: the admin role (and, for a key, its `admin` scope). */
const seesAll = actsAsAdmin;

function batchSummary(row: BatchWithOwner): BatchSummary {
  const reference = row.api === "reference";
  return {
    ...toBatchObject(row),
    owner: row.user.username,
    api: reference ? "reference" : "openai",
    cluster: row.clusterName,
    resultsFile: reference ? row.resultsPath : null,
    errorsFile: reference ? row.errorsPath : null,
  };
}

export const batchesRouter = router({
  /** Batches newest first: the caller's own; an admin's view is everyone's (filter by `user`, `status`). */
  list: batchProcedure
    .input(BatchesListInputSchema)
    .output(z.array(BatchSummarySchema))
    .query(async ({ ctx, input }) => {
      const all = seesAll(ctx.principal);
      if (input.user !== undefined && input.user !== ctx.principal.username && !all) {
        throw apiError("admin_required", {});
      }
      const service = ctx.deps.batches?.service;
      if (!service) return [];
      let userId: string | undefined = all ? undefined : ctx.principal.userId;
      if (input.user !== undefined && input.user !== ctx.principal.username) {
        const user = await ctx.deps.db.prisma.user.findUnique({
          where: { username: input.user },
          select: { id: true },
        });
        if (!user) throw apiError("resource_not_found", { kind: "user", id: input.user });
        userId = user.id;
      } else if (input.user !== undefined) {
        userId = ctx.principal.userId;
      }
      const statuses = input.status === "active" ? ACTIVE_BATCH_STATUSES : input.status ? [input.status] : undefined;
      const rows = await service.listWithOwners({ userId, statuses, limit: input.limit });
      return rows.map(batchSummary);
    }),

  /** One batch: the caller's own, or anyone's for an admin (404 otherwise, as over HTTP). */
  get: batchProcedure
    .input(BatchIdInputSchema)
    .output(BatchSummarySchema)
    .query(async ({ ctx, input }) => {
      const row = await ctx.deps.batches?.service.findWithOwner(input.id);
      if (!row || (row.userId !== ctx.principal.userId && !seesAll(ctx.principal))) {
        throw apiError("batch_not_found", { batchId: input.id }, { param: "id" });
      }
      return batchSummary(row);
    }),

  /**
   * Cancel a batch: the owner's own, or anyone's for an admin. `cancelling` at once, `cancelled`
   * when the worker has stopped it; cancelling twice is harmless, an ended batch is 409. Audited.
   */
  cancel: batchProcedure
    .input(BatchIdInputSchema)
    .output(BatchSummarySchema)
    .mutation(async ({ ctx, input }) => {
      const service = ctx.deps.batches?.service;
      const row = await service?.findWithOwner(input.id);
      const own = row?.userId === ctx.principal.userId;
      if (!service || !row || (!own && !seesAll(ctx.principal))) {
        throw apiError("batch_not_found", { batchId: input.id }, { param: "id" });
      }
      const before = row.status;
      if (own) await service.cancel(ctx.principal.userId, input.id);
      else await service.cancelAny(input.id);
      const after = (await service.findWithOwner(input.id)) ?? row;
      await audit(
        ctx,
        "batches.cancel",
        { type: "batch", id: input.id },
        { owner: row.user.username, model: row.model, from: before, status: after.status },
      );
      return batchSummary(after);
    }),
});
