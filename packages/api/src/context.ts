import type { AuthService, Principal } from "@switchyard/auth";
import type { BatchService } from "@switchyard/batch";
import { type Clock, type SwitchyardConfig, SwitchyardError } from "@switchyard/core";
import type { Database } from "@switchyard/db";
import type { Scheduler } from "@switchyard/scheduler";
import type { Logger } from "pino";

/** What the control plane needs from the process (a subset of the server's AppContext). */
export interface ApiDeps {
  config: SwitchyardConfig;
  db: Database;
  auth: AuthService;
  scheduler: Scheduler;
  clock: Clock;
  logger: Logger;
  /** The batch service; absent where batches are not served (then there are none to list). */
  batches?: { service: BatchService } | undefined;
}

/** One call's context: the process's parts and who is calling. */
export interface ApiContext {
  deps: ApiDeps;
  /** Undefined without valid credentials; `authError` then says what was wrong. */
  principal: Principal | undefined;
  authError: SwitchyardError | undefined;
  /** The credentials the call came with, so a long-lived call (an event stream) can check them again. */
  credentials?: { authorization: string | undefined; apiKey: string | string[] | undefined };
}

/**
 * Resolve the caller through the auth package (cached there). Missing or bad credentials do
 * not fail here: public procedures still work, protected ones answer 401 with the reason.
 */
export async function contextFromCredentials(
  deps: ApiDeps,
  authorization: string | undefined,
  apiKeyHeader?: string | string[],
  address?: string,
): Promise<ApiContext> {
  const credentials = { authorization, apiKey: apiKeyHeader };
  try {
    const principal = await deps.auth.authenticate(authorization, apiKeyHeader, address);
    return { deps, principal, authError: undefined, credentials };
  } catch (error) {
    if (error instanceof SwitchyardError && error.status === 401)
      return { deps, principal: undefined, authError: error, credentials };
    throw error;
  }
}

/** A context for a known principal (tests and in-process callers use it with `createCaller`). */
export function contextFor(deps: ApiDeps, principal: Principal | undefined): ApiContext {
  return { deps, principal, authError: undefined };
}
