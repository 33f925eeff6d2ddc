import { assertActsAsAdmin, hasScope } from "@switchyard/auth";
import { apiError, type ErrorCode, errorFromZod, SwitchyardError } from "@switchyard/core";
import type { RouteScope } from "@switchyard/http";
import { initTRPC, type TRPC_ERROR_CODE_KEY, TRPCError } from "@trpc/server";
import { z } from "zod";
import type { ApiContext } from "./context";

/** The catalogue's HTTP statuses as tRPC codes (tRPC answers with the same statuses). */
const CODE_FOR_STATUS: Record<number, TRPC_ERROR_CODE_KEY> = {
  400: "BAD_REQUEST",
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  405: "METHOD_NOT_SUPPORTED",
  409: "CONFLICT",
  413: "PAYLOAD_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
  422: "UNPROCESSABLE_CONTENT",
  429: "TOO_MANY_REQUESTS",
  502: "BAD_GATEWAY",
  503: "SERVICE_UNAVAILABLE",
  504: "GATEWAY_TIMEOUT",
};

/** A catalogue error as a tRPC error with the same status and message (the catalogue stays the source). */
export function toTRPCError(error: SwitchyardError): TRPCError {
  return new TRPCError({
    code: CODE_FOR_STATUS[error.status] ?? "INTERNAL_SERVER_ERROR",
    message: error.message,
    cause: error,
  });
}

/** What the dashboard reads besides tRPC's own fields: the catalogue code and the field at fault. */
export interface SwitchyardErrorData {
  code: ErrorCode;
  type: string;
  param: string | null;
}

const t = initTRPC.context<ApiContext>().create({
  // Never send stack traces to clients, whatever NODE_ENV says.
  isDev: false,
  errorFormatter({ shape, error }) {
    const cause = error.cause instanceof SwitchyardError ? error.cause : undefined;
    const internal = error.code === "INTERNAL_SERVER_ERROR" && !cause;
    const switchyard: SwitchyardErrorData | null = cause
      ? { code: cause.code, type: cause.type, param: cause.param }
      : internal
        ? { code: "internal_error", type: "server_error", param: null }
        : null;
    return {
      ...shape,
      // An unexpected error's own message may name tables or paths: keep it in the server log.
      message: internal ? "Internal error; the details are in the server log." : shape.message,
      data: { ...shape.data, stack: undefined, switchyard },
    };
  },
  sse: {
    // Comments every 15 s keep proxies from closing an idle event stream.
    ping: { enabled: true, intervalMs: 15_000 },
    client: { reconnectAfterInactivityMs: 40_000 },
  },
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/**
 * Errors out of every procedure: catalogue errors keep their status and message; an invalid
 * input becomes the catalogue's 400 naming the field (`Invalid value for 'name': ...`).
 */
const translateErrors = t.middleware(async ({ next, getRawInput }) => {
  const result = await next();
  if (result.ok) return result;
  const { error } = result;
  if (error.cause instanceof SwitchyardError) throw toTRPCError(error.cause);
  if (error.code === "BAD_REQUEST" && error.cause instanceof z.ZodError) {
    let raw: unknown;
    try {
      raw = await getRawInput();
    } catch {
      raw = undefined;
    }
    throw toTRPCError(errorFromZod(error.cause, raw));
  }
  return result;
});

/** Anyone, signed in or not (the sign-in page's options). */
export const publicProcedure = t.procedure.use(translateErrors);

/** Any signed-in principal (token, API key of any scope, or an external OIDC token); 401 otherwise. */
export const protectedProcedure = publicProcedure.use(({ ctx, next }) => {
  if (!ctx.principal) throw ctx.authError ?? apiError("missing_credentials", {});
  return next({ ctx: { principal: ctx.principal } });
});

/** A signed-in principal whose API key (if that is how it signed in) carries the scope; 403 otherwise. */
export function scopedProcedure(scope: RouteScope) {
  return protectedProcedure.use(({ ctx, next }) => {
    if (!hasScope(ctx.principal, scope)) throw apiError("insufficient_scope", { scope });
    return next();
  });
}

/** Admins only (and an admin's API key needs the `admin` scope): 403 for everyone else. */
export const adminProcedure = protectedProcedure.use(({ ctx, next }) => {
  assertActsAsAdmin(ctx.principal);
  return next();
});
