import { execFile } from "node:child_process";
import type { BigIntStats, Stats } from "node:fs";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * Who a batch's files are checked for (`batch.fileAccess`):
 * - `service`: nobody but the service; every user has the service account's rights (single-user installs);
 * - `world`: inputs must be world-readable, outputs go to the user's own folder the service made;
 * - `posix`: the user's system account, its mode bits and groups, as the kernel would decide.
 */
export type FileAccessMode = "service" | "world" | "posix";

/** A system account: its uid and every group it is in (primary and supplementary). */
export interface Account {
  name: string;
  uid: number;
  gids: number[];
}

export type FilePolicy =
  | { mode: "service" }
  | { mode: "world"; username: string }
  | { mode: "posix"; account: Account };

export interface Want {
  read?: boolean;
  write?: boolean;
  search?: boolean;
}

type Info = Stats | BigIntStats;

function bits(info: Info): { mode: number; uid: number; gid: number } {
  return { mode: Number(info.mode) & 0o777, uid: Number(info.uid), gid: Number(info.gid) };
}

function allows(perm: number, want: Want): boolean {
  return (!want.read || (perm & 4) !== 0) && (!want.write || (perm & 2) !== 0) && (!want.search || (perm & 1) !== 0);
}

/**
 * Whether `account` may do `want` on a file or directory, by its mode bits as the kernel
 * decides for a process of that account: the owner's bits if it owns it, else the group's if
 * it is in the group, else the others'. (POSIX ACLs are not consulted: a named-user entry
 * that would grant more does not count here.)
 */
export function accountMay(info: Info, account: Account, want: Want): boolean {
  const { mode, uid, gid } = bits(info);
  if (account.uid === 0) return !want.search || info.isDirectory() || (mode & 0o111) !== 0;
  if (uid === account.uid) return allows(mode >> 6, want);
  if (account.gids.includes(gid)) return allows((mode >> 3) & 7, want);
  return allows(mode & 7, want);
}

/** Whether everyone may do `want` (the others' bits). */
export function worldMay(info: Info, want: Want): boolean {
  return allows(bits(info).mode & 7, want);
}

/** Account names passed to `getent`/`id`: no option-like or odd names. */
const ACCOUNT_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.@-]*\$?$/;

export type AccountLookup = (name: string) => Promise<Account | undefined>;

/**
 * The system account `name` from the system's user database (NSS: /etc/passwd, LDAP, SSSD):
 * its uid from `getent passwd`, its groups from `id -G` (primary and supplementary).
 * Undefined when there is no such account.
 */
export async function lookupAccount(name: string): Promise<Account | undefined> {
  if (!ACCOUNT_NAME.test(name)) return undefined;
  let passwd: string;
  try {
    passwd = (await run("getent", ["passwd", name], { timeout: 5000 })).stdout;
  } catch (error) {
    if ((error as { code?: unknown }).code === 2) return undefined; // getent: key not found
    throw error;
  }
  const fields = passwd.trim().split("\n")[0]?.split(":") ?? [];
  const uid = Number(fields[2]);
  const gid = Number(fields[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) return undefined;
  const groups = (await run("id", ["-G", "--", name], { timeout: 5000 })).stdout
    .trim()
    .split(/\s+/)
    .map(Number)
    .filter((g) => Number.isInteger(g));
  return { name, uid, gids: [...new Set([gid, ...groups])] };
}

/** `lookupAccount` with a short memory (a minute), so a busy API does not fork per request. */
export function cachedLookup(lookup: AccountLookup = lookupAccount, ttlMs = 60_000): AccountLookup {
  const cache = new Map<string, { account: Account | undefined; until: number }>();
  return async (name) => {
    const hit = cache.get(name);
    if (hit && hit.until > Date.now()) return hit.account;
    const account = await lookup(name);
    cache.set(name, { account, until: Date.now() + ttlMs });
    return account;
  };
}
