import { InvalidArgumentError } from "commander";

/**
 * What an instance of `switchyard serve` runs (`--roles`): the HTTP API (`gateway`), the
 * scheduler that launches and stops model servers (`scheduler`: the leader, or a standby that
 * takes over), and the batch worker (`batch`). All three in one process is the embedded
 * all-in-one; any other set shares a PostgreSQL database with the instances that run the rest.
 */
export const ROLES = ["gateway", "scheduler", "batch"] as const;
export type InstanceRole = (typeof ROLES)[number];

/** `--roles gateway,scheduler`: each name once, known, at least one; usage errors otherwise. */
export function parseRoles(value: string): InstanceRole[] {
  const names = value
    .split(",")
    .map((name) => name.trim())
    .filter(Boolean);
  if (names.length === 0) throw new InvalidArgumentError(`name at least one of ${ROLES.join(", ")}`);
  const unknown = names.filter((name) => !(ROLES as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new InvalidArgumentError(
      `unknown role${unknown.length > 1 ? "s" : ""} ${unknown.map((n) => `'${n}'`).join(", ")}; the roles are ${ROLES.join(", ")}`,
    );
  }
  // In the canonical order, once each.
  return ROLES.filter((role) => names.includes(role));
}

/** Whether these roles are the whole of Switchyard in one process (the only set embedded PGlite serves). */
export function isAllInOne(roles: readonly InstanceRole[]): boolean {
  return ROLES.every((role) => roles.includes(role));
}

/** What each role needs, for `--help`. */
export const ROLES_HELP = `
Roles (--roles, default: all three in this one process):
  gateway    the HTTP API (inference, auth, control plane, dashboard); routes by the
             scheduler's state in the database; never launches model servers
  scheduler  launches and stops model servers: one instance leads (a PostgreSQL advisory
             lock), the others stand by and take over; without 'gateway' it serves only
             /health, /ready and /metrics on --port
  batch      runs batches (the same as 'switchyard batch-worker')
Any set but all three needs PostgreSQL (DATABASE_URL) shared by every instance, and the
same config file on each; REDIS_URL shares rate limits and revocations between gateways.
Embedded PGlite (no DATABASE_URL) serves only the all-in-one.
`;
