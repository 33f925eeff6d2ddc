import type { Principal } from "@switchyard/auth";
import type { AuditEntry } from "@switchyard/core";
import type { Prisma, PrismaClientOrTransaction } from "@switchyard/db";

/** Who acted: a principal of the control plane, or an operator at the server's command line. */
export type AuditActor =
  | Pick<Principal, "userId" | "username" | "via">
  | { userId: null; username: string; via: "cli" };

export interface AuditRecord {
  action: string;
  target: { type: string; id: string };
  details?: Record<string, unknown>;
  at: Date;
}

/** One row of the audit log. Callers write it after the change succeeded, with what changed. */
export async function recordAudit(db: PrismaClientOrTransaction, actor: AuditActor, record: AuditRecord) {
  await db.auditLog.create({
    data: {
      at: record.at,
      actorId: actor.userId,
      actorUsername: actor.username,
      via: actor.via,
      action: record.action,
      targetType: record.target.type,
      targetId: record.target.id,
      ...(record.details ? { details: record.details as Prisma.InputJsonValue } : {}),
    },
  });
}

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
