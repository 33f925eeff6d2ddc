import { apiError } from "@switchyard/core";
import type { PrismaClientOrTransaction } from "@switchyard/db";
import { hashPassword, randomToken } from "./crypto";
import type { Role } from "./principal";

/** A random password people can type: 20 characters, about 119 bits. */
export function randomPassword(): string {
  return randomToken(15);
}

export interface UserView {
  id: string;
  username: string;
  role: Role;
  groups: string[];
  disabled: boolean;
  createdAt: Date;
  lastLoginAt: Date | null;
  issuer: string | null;
}

const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export function validateUsername(username: string): void {
  if (!USERNAME.test(username)) {
    throw apiError("invalid_field", {
      param: "username",
      detail: "use 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit",
    });
  }
}

export async function findUserView(db: PrismaClientOrTransaction, where: { id: string } | { username: string }) {
  const user = await db.user.findUnique({ where, include: { groups: { include: { group: true } } } });
  if (!user) return undefined;
  return {
    id: user.id,
    username: user.username,
    role: user.role,
    groups: user.groups.map((m) => m.group.name).sort(),
    disabled: user.disabled,
    createdAt: user.createdAt,
    lastLoginAt: user.lastLoginAt,
    issuer: user.issuer,
    passwordHash: user.passwordHash,
  };
}

async function ensureGroup(db: PrismaClientOrTransaction, name: string) {
  return db.group.upsert({ where: { name }, create: { name }, update: {} });
}

export async function createUser(
  db: PrismaClientOrTransaction,
  input: { username: string; password?: string | undefined; role?: Role; groups?: string[] },
): Promise<UserView> {
  validateUsername(input.username);
  if (await db.user.findUnique({ where: { username: input.username } })) {
    throw apiError("already_exists", { kind: "user", id: input.username });
  }
  const user = await db.user.create({
    data: {
      username: input.username,
      role: input.role ?? "user",
      passwordHash: input.password === undefined ? null : await hashPassword(input.password),
    },
  });
  for (const name of input.groups ?? []) {
    const group = await ensureGroup(db, name);
    await db.groupMember.create({ data: { userId: user.id, groupId: group.id } });
  }
  return (await findUserView(db, { id: user.id })) as UserView;
}

export async function listUsers(db: PrismaClientOrTransaction): Promise<UserView[]> {
  const users = await db.user.findMany({
    orderBy: { username: "asc" },
    include: { groups: { include: { group: true } } },
  });
  return users.map((u) => ({
    id: u.id,
    username: u.username,
    role: u.role,
    groups: u.groups.map((m) => m.group.name).sort(),
    disabled: u.disabled,
    createdAt: u.createdAt,
    lastLoginAt: u.lastLoginAt,
    issuer: u.issuer,
  }));
}

export async function addGroupMember(
  db: PrismaClientOrTransaction,
  groupName: string,
  username: string,
): Promise<void> {
  const user = await db.user.findUnique({ where: { username } });
  if (!user) throw apiError("resource_not_found", { kind: "user", id: username });
  const group = await ensureGroup(db, groupName);
  await db.groupMember.upsert({
    where: { userId_groupId: { userId: user.id, groupId: group.id } },
    create: { userId: user.id, groupId: group.id },
    update: { source: "local" },
  });
}

/**
 * First start: when no admin exists, create `admin` with the given password, or a random one
 * that the caller shows once. Returns what was created, if anything.
 */
export async function ensureBootstrapAdmin(
  db: PrismaClientOrTransaction,
  password: string | undefined,
): Promise<{ username: string; password: string; generated: boolean } | undefined> {
  if ((await db.user.count({ where: { role: "admin" } })) > 0) return undefined;
  const chosen = password && password.length > 0 ? password : randomPassword();
  const existing = await db.user.findUnique({ where: { username: "admin" } });
  if (existing) {
    await db.user.update({
      where: { id: existing.id },
      data: { role: "admin", passwordHash: await hashPassword(chosen) },
    });
  } else {
    try {
      await createUser(db, { username: "admin", password: chosen, role: "admin" });
    } catch (error) {
      // Another instance starting at the same moment (several gateways on one database) made it.
      if ((await db.user.count({ where: { role: "admin" } })) > 0) return undefined;
      throw error;
    }
  }
  return { username: "admin", password: chosen, generated: !password };
}
