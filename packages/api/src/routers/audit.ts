import { AuditListInputSchema, AuditPageSchema } from "@switchyard/core";
import { listAudit } from "../audit";
import { adminProcedure, router } from "../trpc";

export const auditRouter = router({
  /** The audit log, newest first, a page at a time (`cursor`: the previous page's `nextCursor`). */
  list: adminProcedure
    .input(AuditListInputSchema)
    .output(AuditPageSchema)
    .query(({ ctx, input }) => listAudit(ctx.deps.db.prisma, input)),
});
