import type { AppRouter } from "@switchyard/api";
import { MutationCache, QueryCache, QueryClient } from "@tanstack/react-query";
import { createTRPCClient, httpBatchLink, httpSubscriptionLink, splitLink, TRPCClientError } from "@trpc/client";
import { createTRPCContext } from "@trpc/tanstack-react-query";
import { session } from "./session";

export const { TRPCProvider, useTRPC } = createTRPCContext<AppRouter>();

/** The HTTP status of a failed call, when the server answered. */
export function statusOf(error: unknown): number | undefined {
  if (error instanceof TRPCClientError) {
    const data = error.data as { httpStatus?: number } | undefined;
    return data?.httpStatus;
  }
  return undefined;
}

/** A sentence for the user: the server's own message, or what went wrong on the way. */
export function errorMessage(error: unknown): string {
  if (error instanceof TRPCClientError) {
    if (statusOf(error) === undefined && /fetch|network/i.test(error.message)) {
      return "Cannot reach the Switchyard server. Check that it is running, then retry.";
    }
    return error.message;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

/** 401 means the credentials are gone (revoked, expired past refresh): sign in again. */
function onAuthFailure(error: unknown): void {
  if (statusOf(error) === 401 && session.signedIn) session.end("Your session is no longer valid. Sign in again.");
}

export function createClients() {
  const queryClient = new QueryClient({
    queryCache: new QueryCache({ onError: onAuthFailure }),
    mutationCache: new MutationCache({ onError: onAuthFailure }),
    defaultOptions: {
      queries: {
        staleTime: 5_000,
        // What the user got wrong (4xx) will not fix itself by retrying.
        retry: (count, error) => {
          const status = statusOf(error);
          return (status === undefined || status >= 500) && count < 2;
        },
      },
    },
  });
  const trpcClient = createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === "subscription",
        // EventSource cannot send headers: the token travels in tRPC's connection params.
        true: httpSubscriptionLink({
          url: "/trpc",
          connectionParams: async () => {
            const token = await session.accessToken();
            return token ? { token } : {};
          },
        }),
        false: httpBatchLink({
          url: "/trpc",
          headers: async () => {
            const token = await session.accessToken();
            return token ? { authorization: `Bearer ${token}` } : {};
          },
        }),
      }),
    ],
  });
  return { queryClient, trpcClient };
}
