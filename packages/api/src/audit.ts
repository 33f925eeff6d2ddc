import type { AuditEntry } from "@switchyard/core";
import type { PrismaClientOrTransaction } from "@switchyard/db";

// The writer lives in the auth package, which records sign-ins and a key's use from a new
// address itself; the control plane writes its rows through the same function.
export { type AuditActor, type AuditRecord, recordAudit } from "@switchyard/auth";

export async function listAudit(
  db: PrismaClientOrTransaction,
  filter: { limit: number; cursor?: string | undefined; action?: string | undefined; actor?: string | undefined },
): Promise<{ entries: AuditEntry[]; nextCursor: string | null }> {
  const rows = await db.auditLog.findMany({
    where: {
      ...(filter.cursor ? { id: { lt: BigInt(filter.cursor) } } : {}),
      ...(filter.action ? { action: { startsWith: filter.action } } : {}),
      ...(filter.actor ? { actorUsername: filter.actor } : {}),
    },
    orderBy: { id: "desc" },
    take: filter.limit + 1,
  });
  const page = rows.slice(0, filter.limit);
  return {
    entries: page.map((row) => ({
      id: row.id.toString(),
      at: row.at.toISOString(),
      actor: { id: row.actorId, username: row.actorUsername, via: row.via },
      action: row.action,
      target: { type: row.targetType, id: row.targetId },
      details: (row.details as Record<string, unknown> | null) ?? null,
    })),
    nextCursor: rows.length > filter.limit ? (page.at(-1)?.id.toString() ?? null) : null,
  };
}
