import { createUser, findUserView, listUsers, randomPassword } from "@switchyard/auth";
import {
  apiError,
  CreateUserInputSchema,
  CreateUserOutputSchema,
  GroupMemberInputSchema,
  type GroupSummary,
  GroupSummarySchema,
  SetGroupsInputSchema,
  SetRoleInputSchema,
  type UserSummary,
  UserSummarySchema,
} from "@switchyard/core";
import type { PrismaClientOrTransaction } from "@switchyard/db";
import { z } from "zod";
import { audit, iso } from "../helpers";
import { adminProcedure, router } from "../trpc";

async function activeKeyCounts(db: PrismaClientOrTransaction, now: Date): Promise<Map<string, number>> {
  const rows = await db.apiKey.groupBy({
    by: ["userId"],
    where: { revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] },
    _count: { _all: true },
  });
  return new Map(rows.map((r) => [r.userId, r._count._all]));
}

async function userSummary(db: PrismaClientOrTransaction, username: string, now: Date): Promise<UserSummary> {
  const user = await findUserView(db, { username });
  if (!user) throw apiError("resource_not_found", { kind: "user", id: username });
  const keys = await activeKeyCounts(db, now);
  return {
    id: user.id,
    username: user.username,
    role: user.role,
    groups: user.groups,
    disabled: user.disabled,
    issuer: user.issuer,
    createdAt: user.createdAt.toISOString(),
    lastLoginAt: iso(user.lastLoginAt),
    activeKeys: keys.get(user.id) ?? 0,
  };
}

export const usersRouter = router({
  list: adminProcedure.output(z.array(UserSummarySchema)).query(async ({ ctx }) => {
    const db = ctx.deps.db.prisma;
    const [users, keys] = await Promise.all([listUsers(db), activeKeyCounts(db, new Date(ctx.deps.clock.now()))]);
    return users.map((u) => ({
      id: u.id,
      username: u.username,
      role: u.role,
      groups: u.groups,
      disabled: u.disabled,
      issuer: u.issuer,
      createdAt: u.createdAt.toISOString(),
      lastLoginAt: iso(u.lastLoginAt),
      activeKeys: keys.get(u.id) ?? 0,
    }));
  }),

  /** A new user with a password (generated and returned once when none is given). */
  create: adminProcedure
    .input(CreateUserInputSchema)
    .output(CreateUserOutputSchema)
    .mutation(async ({ ctx, input }) => {
      const db = ctx.deps.db.prisma;
      const password = input.password ?? randomPassword();
      const created = await createUser(db, {
        username: input.username,
        password,
        role: input.role,
        groups: input.groups,
      });
      await audit(
        ctx,
        "users.create",
        { type: "user", id: created.username },
        {
          role: input.role,
          groups: input.groups,
          passwordGenerated: input.password === undefined,
        },
      );
      return {
        user: await userSummary(db, created.username, new Date(ctx.deps.clock.now())),
        generatedPassword: input.password === undefined ? password : null,
      };
    }),

  /** Make a user an admin or take the role away (never from the last admin). */
  setRole: adminProcedure
    .input(SetRoleInputSchema)
    .output(UserSummarySchema)
    .mutation(async ({ ctx, input }) => {
      const db = ctx.deps.db.prisma;
      const before = await db.$transaction(async (tx) => {
        const user = await tx.user.findUnique({ where: { username: input.username } });
        if (!user) throw apiError("resource_not_found", { kind: "user", id: input.username });
        if (user.role === "admin" && input.role !== "admin") {
          const admins = await tx.user.count({ where: { role: "admin", disabled: false } });
          if (admins <= 1) throw apiError("last_admin", { username: user.username });
        }
        await tx.user.update({ where: { id: user.id }, data: { role: input.role } });
        return user.role;
      });
      await ctx.deps.auth.credentialsChanged();
      await audit(ctx, "users.setRole", { type: "user", id: input.username }, { from: before, to: input.role });
      return userSummary(db, input.username, new Date(ctx.deps.clock.now()));
    }),

  /**
   * Set the groups an admin gave a user. Memberships synced from an identity provider's groups
   * claim are the provider's to change and stay as they are.
   */
  setGroups: adminProcedure
    .input(SetGroupsInputSchema)
    .output(UserSummarySchema)
    .mutation(async ({ ctx, input }) => {
      const db = ctx.deps.db.prisma;
      const wanted = [...new Set(input.groups)];
      const change = await db.$transaction(async (tx) => {
        const user = await tx.user.findUnique({
          where: { username: input.username },
          include: { groups: { include: { group: true } } },
        });
        if (!user) throw apiError("resource_not_found", { kind: "user", id: input.username });
        const have = new Set(user.groups.map((m) => m.group.name));
        const added = wanted.filter((name) => !have.has(name));
        for (const name of added) {
          const group = await tx.group.upsert({ where: { name }, create: { name }, update: {} });
          await tx.groupMember.create({ data: { userId: user.id, groupId: group.id, source: "local" } });
        }
        const removed = user.groups.filter((m) => m.source === "local" && !wanted.includes(m.group.name));
        if (removed.length > 0) {
          await tx.groupMember.deleteMany({
            where: { userId: user.id, groupId: { in: removed.map((m) => m.groupId) }, source: "local" },
          });
        }
        return { added, removed: removed.map((m) => m.group.name) };
      });
      await ctx.deps.auth.credentialsChanged();
      await audit(ctx, "users.setGroups", { type: "user", id: input.username }, change);
      return userSummary(db, input.username, new Date(ctx.deps.clock.now()));
    }),
});

async function groupSummaries(
  db: PrismaClientOrTransaction,
  config: { models: { id: string; allowedGroups: string[] }[]; clusters: { name: string; allowedGroups: string[] }[] },
  only?: string,
): Promise<GroupSummary[]> {
  const rows = await db.group.findMany({
    ...(only ? { where: { name: only } } : {}),
    include: { members: { include: { user: { select: { username: true } } } } },
    orderBy: { name: "asc" },
  });
  const names = new Set(rows.map((r) => r.name));
  // Groups the config's policies name exist for admins even before anyone is in them.
  for (const entry of [...config.models, ...config.clusters]) {
    for (const name of entry.allowedGroups) if (!only || name === only) names.add(name);
  }
  const byName = new Map(rows.map((r) => [r.name, r]));
  return [...names].sort().map((name) => {
    const row = byName.get(name);
    return {
      name,
      description: row?.description ?? null,
      members: (row?.members ?? [])
        .map((m) => ({ username: m.user.username, source: m.source }))
        .sort((a, b) => a.username.localeCompare(b.username)),
      models: config.models.filter((m) => m.allowedGroups.includes(name)).map((m) => m.id),
      clusters: config.clusters.filter((c) => c.allowedGroups.includes(name)).map((c) => c.name),
    };
  });
}

export const groupsRouter = router({
  /** Every group: its members (and whether an admin or the identity provider put them there) and what it unlocks. */
  list: adminProcedure
    .output(z.array(GroupSummarySchema))
    .query(({ ctx }) => groupSummaries(ctx.deps.db.prisma, ctx.deps.config)),

  /** Add a user to a group (the group is created when new). */
  addMember: adminProcedure
    .input(GroupMemberInputSchema)
    .output(GroupSummarySchema)
    .mutation(async ({ ctx, input }) => {
      const db = ctx.deps.db.prisma;
      const user = await db.user.findUnique({ where: { username: input.username } });
      if (!user) throw apiError("resource_not_found", { kind: "user", id: input.username });
      const group = await db.group.upsert({ where: { name: input.group }, create: { name: input.group }, update: {} });
      const existing = await db.groupMember.findUnique({
        where: { userId_groupId: { userId: user.id, groupId: group.id } },
      });
      if (!existing) await db.groupMember.create({ data: { userId: user.id, groupId: group.id, source: "local" } });
      await ctx.deps.auth.credentialsChanged();
      await audit(
        ctx,
        "groups.addMember",
        { type: "group", id: input.group },
        {
          username: input.username,
          alreadyMember: existing !== null,
        },
      );
      const [summary] = await groupSummaries(db, ctx.deps.config, input.group);
      return summary!;
    }),

  /** Take a user out of a group. */
  removeMember: adminProcedure
    .input(GroupMemberInputSchema)
    .output(GroupSummarySchema)
    .mutation(async ({ ctx, input }) => {
      const db = ctx.deps.db.prisma;
      const membership = await db.groupMember.findFirst({
        where: { user: { username: input.username }, group: { name: input.group } },
      });
      if (!membership) {
        throw apiError("resource_not_found", { kind: "member of group", id: `${input.group}/${input.username}` });
      }
      await db.groupMember.delete({
        where: { userId_groupId: { userId: membership.userId, groupId: membership.groupId } },
      });
      await ctx.deps.auth.credentialsChanged();
      await audit(
        ctx,
        "groups.removeMember",
        { type: "group", id: input.group },
        {
          username: input.username,
          source: membership.source,
        },
      );
      const [summary] = await groupSummaries(db, ctx.deps.config, input.group);
      return summary!;
    }),
});
