import type { Prisma, PrismaClient, PrismaClientOrTransaction } from "@switchyard/db";
import type { Principal } from "./principal";

/**
 * Who acted: a principal of the control plane, a user signing in (`via: "password"` for the
 * password grant and the device page, `"device"` for a device login's first token), or an
 * operator at the server's command line.
 */
export type AuditActor =
  | Pick<Principal, "userId" | "username" | "via">
  | { userId: string; username: string; via: "password" | "device" }
  | { userId: null; username: string; via: "cli" };

export interface AuditRecord {
  action: string;
  target: { type: string; id: string };
  details?: Record<string, unknown>;
  at: Date;
}

function auditRow(actor: AuditActor, record: AuditRecord): Prisma.AuditLogCreateManyInput {
  return {
    at: record.at,
    actorId: actor.userId,
    actorUsername: actor.username,
    via: actor.via,
    action: record.action,
    targetType: record.target.type,
    targetId: record.target.id,
    ...(record.details ? { details: record.details as Prisma.InputJsonValue } : {}),
  };
}

/**
 * One row of the audit log (the control plane's changes, sign-ins, a key's use from a new
 * address). Callers write it after the change succeeded, with what changed.
 */
export async function recordAudit(db: PrismaClientOrTransaction, actor: AuditActor, record: AuditRecord) {
  await db.auditLog.create({ data: auditRow(actor, record) });
}

/** Several rows in one statement (the key-use tracker's flush). */
export async function recordAuditMany(
  db: PrismaClientOrTransaction,
  rows: { actor: AuditActor; record: AuditRecord }[],
): Promise<void> {
  if (rows.length === 0) return;
  await db.auditLog.createMany({ data: rows.map((r) => auditRow(r.actor, r.record)) });
}

/** The audit row of a sign-in: who, how (password grant, approved device), which client, from where. */
export async function auditSignIn(
  db: PrismaClient,
  sign: { userId: string; method: "password" | "device"; clientId: string; address: string; at: Date },
): Promise<void> {
  const user = await db.user.findUnique({ where: { id: sign.userId }, select: { username: true } });
  if (!user) return;
  await recordAudit(
    db,
    { userId: sign.userId, username: user.username, via: sign.method },
    {
      action: "auth.signIn",
      target: { type: "user", id: user.username },
      details: { method: sign.method, client: sign.clientId, address: sign.address },
      at: sign.at,
    },
  );
}

/** The audit row of a device login approved or denied on the /device page. */
export async function auditDeviceDecision(
  db: PrismaClient,
  decision: { user: { id: string; username: string }; userCode: string; approved: boolean; address: string; at: Date },
): Promise<void> {
  await recordAudit(
    db,
    { userId: decision.user.id, username: decision.user.username, via: "password" },
    {
      action: decision.approved ? "device.approve" : "device.deny",
      target: { type: "device_login", id: decision.userCode },
      details: { page: "/device", address: decision.address },
      at: decision.at,
    },
  );
}
