import { ALL_SCOPES } from "@switchyard/auth";
import {
  apiError,
  DeviceDecisionInputSchema,
  DeviceDecisionSchema,
  DeviceRequestSchema,
  SessionSchema,
  SignInOptionsSchema,
  UserCodeInputSchema,
} from "@switchyard/core";
import { audit } from "../helpers";
import { protectedProcedure, publicProcedure, router } from "../trpc";

export const sessionRouter = router({
  /** Who the caller is: the dashboard shows admin actions only to admins. */
  me: protectedProcedure.output(SessionSchema).query(({ ctx }) => {
    const p = ctx.principal;
    return {
      id: p.userId,
      username: p.username,
      role: p.role,
      groups: p.groups,
      via: p.via,
      scopes: p.scopes === "all" ? [...ALL_SCOPES] : [...p.scopes],
      expiresAt: p.expiresAt === null ? null : new Date(p.expiresAt).toISOString(),
    };
  }),

  /** How one can sign in (public: the sign-in page asks before anyone is signed in). */
  signInOptions: publicProcedure.output(SignInOptionsSchema).query(({ ctx }) => ({
    password: true,
    oidc: ctx.deps.config.auth.oidc.flatMap((provider) =>
      provider.dashboard
        ? [
            {
              issuer: provider.issuer,
              displayName: provider.displayName ?? new URL(provider.issuer).host,
              clientId: provider.dashboard.clientId,
              scope: provider.dashboard.scope,
              resource: provider.dashboard.resource ?? null,
            },
          ]
        : [],
    ),
  })),
});

export const deviceRouter = router({
  /** A pending device login by the code `sy login` shows, so the user can check it before deciding. */
  lookup: protectedProcedure
    .input(UserCodeInputSchema)
    .output(DeviceRequestSchema)
    .query(async ({ ctx, input }) => {
      const row = await ctx.deps.auth.device.lookup(input.userCode, ctx.deps.clock.now());
      if (!row)
        throw apiError("resource_not_found", { kind: "pending device login with the code", id: input.userCode });
      return {
        userCode: row.userCode,
        clientId: row.clientId,
        scope: row.scope,
        requestedAt: row.createdAt.toISOString(),
        expiresAt: row.expiresAt.toISOString(),
      };
    }),

  /** Approve (the device gets tokens for the caller on its next poll) or deny a device login. */
  decide: protectedProcedure
    .input(DeviceDecisionInputSchema)
    .output(DeviceDecisionSchema)
    .mutation(async ({ ctx, input }) => {
      // An API key must not be turned into a full session for its owner.
      if (ctx.principal.via === "api_key") {
        throw apiError("interactive_session_required", { action: "Approving a device login" });
      }
      const decided = await ctx.deps.auth.device.decide(
        input.userCode,
        ctx.principal.userId,
        input.approve,
        ctx.deps.clock.now(),
      );
      if (!decided)
        throw apiError("resource_not_found", { kind: "pending device login with the code", id: input.userCode });
      await audit(ctx, input.approve ? "device.approve" : "device.deny", { type: "device_login", id: input.userCode });
      return { userCode: input.userCode, approved: input.approve };
    }),
});
