import {
  type ApiKeyView,
  actsAsAdmin,
  apiKeyExpiry,
  assertActsAsAdmin,
  createApiKey,
  hasScope,
  listApiKeys,
  revokeApiKey,
} from "@switchyard/auth";
import {
  type ApiKeySummary,
  ApiKeySummarySchema,
  apiError,
  CreateKeyInputSchema,
  CreateKeyOutputSchema,
  KeyIdInputSchema,
  KeysListInputSchema,
} from "@switchyard/core";
import { z } from "zod";
import { audit, iso } from "../helpers";
import { router, scopedProcedure } from "../trpc";

const keysProcedure = scopedProcedure("keys");

function keySummary(view: ApiKeyView): ApiKeySummary {
  return {
    id: view.id,
    name: view.name,
    user: view.user,
    prefix: view.prefix,
    scopes: view.scopes,
    createdAt: view.createdAt.toISOString(),
    expiresAt: iso(view.expiresAt),
    revokedAt: iso(view.revokedAt),
    lastUsedAt: iso(view.lastUsedAt),
  };
}

export const keysRouter = router({
  /** The caller's own API keys; an admin acting as one may ask for everyone's (`all: true`). */
  list: keysProcedure
    .input(KeysListInputSchema)
    .output(z.array(ApiKeySummarySchema))
    .query(async ({ ctx, input }) => {
      if (input.all) assertActsAsAdmin(ctx.principal);
      const keys = await listApiKeys(ctx.deps.db.prisma, input.all ? {} : { userId: ctx.principal.userId });
      return keys.filter((k) => input.includeRevoked || k.revokedAt === null).map(keySummary);
    }),

  /** What the dashboard's form shows: the days a key lasts when none are given (0: never). */
  defaults: keysProcedure.output(z.object({ expiryDays: z.int() })).query(({ ctx }) => ({
    expiryDays: ctx.deps.auth.settings.apiKeyDefaultExpiryDays,
  })),

  /** A new key for the caller, returned this once (only its hash is kept). */
  create: keysProcedure
    .input(CreateKeyInputSchema)
    .output(CreateKeyOutputSchema)
    .mutation(async ({ ctx, input }) => {
      const scopes = [...new Set(input.scopes)];
      for (const scope of scopes) {
        // A key never grants more than its creator holds; `admin` needs the role too.
        if (!hasScope(ctx.principal, scope) || (scope === "admin" && ctx.principal.role !== "admin")) {
          throw apiError("insufficient_scope", { scope });
        }
      }
      const expiresAt = apiKeyExpiry(
        input.expiresDays,
        ctx.deps.auth.settings.apiKeyDefaultExpiryDays,
        ctx.deps.clock.now(),
      );
      const { key, view } = await createApiKey(ctx.deps.db.prisma, {
        userId: ctx.principal.userId,
        name: input.name,
        expiresAt,
        scopes,
      });
      await audit(
        ctx,
        "keys.create",
        { type: "api_key", id: view.id },
        {
          name: view.name,
          scopes,
          expiresAt: iso(view.expiresAt),
        },
      );
      return { key, apiKey: keySummary(view) };
    }),

  /** Revoke one of the caller's keys (an admin acting as one: anyone's). Takes effect everywhere at once. */
  revoke: keysProcedure
    .input(KeyIdInputSchema)
    .output(ApiKeySummarySchema)
    .mutation(async ({ ctx, input }) => {
      const view = await revokeApiKey(
        ctx.deps.db.prisma,
        input.id,
        new Date(ctx.deps.clock.now()),
        actsAsAdmin(ctx.principal) ? {} : { userId: ctx.principal.userId },
      );
      await ctx.deps.auth.credentialsChanged();
      await audit(ctx, "keys.revoke", { type: "api_key", id: view.id }, { owner: view.user, name: view.name });
      return keySummary(view);
    }),
});
