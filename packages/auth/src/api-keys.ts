import { apiError } from "@switchyard/core";
import type { PrismaClientOrTransaction } from "@switchyard/db";
import type { RouteScope } from "@switchyard/http";
import { recordAuditMany } from "./audit";
import { randomToken, sha256Hex } from "./crypto";

export const API_KEY_PREFIX = "sy_";
export const DEFAULT_KEY_SCOPES: RouteScope[] = ["inference", "batch"];

export interface ApiKeyView {
  id: string;
  name: string | null;
  user: string;
  prefix: string;
  scopes: string[];
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

/**
 * When a new key expires: after `days` when its creator named them (0: never), else after the
 * configured default (`auth.apiKeyDefaultExpiryDays`; 0 there: never).
 */
export function apiKeyExpiry(days: number | null | undefined, defaultDays: number, now: number): Date | undefined {
  const chosen = days ?? defaultDays;
  return chosen > 0 ? new Date(now + chosen * 86_400_000) : undefined;
}

export function isApiKey(credential: string): boolean {
  return credential.startsWith(API_KEY_PREFIX);
}

/** SHA-256 is right for keys: 256 random bits cannot be guessed, so no slow hash is needed. */
export function apiKeyHash(key: string): string {
  return sha256Hex(key);
}

export async function createApiKey(
  db: PrismaClientOrTransaction,
  input: { userId: string; name?: string | undefined; expiresAt?: Date | undefined; scopes?: RouteScope[] },
): Promise<{ key: string; view: ApiKeyView }> {
  const key = `${API_KEY_PREFIX}${randomToken(32)}`; // 256 bits
  const row = await db.apiKey.create({
    data: {
      id: `key_${randomToken(12)}`,
      userId: input.userId,
      name: input.name ?? null,
      prefix: key.slice(0, 8),
      hash: apiKeyHash(key),
      scopes: input.scopes ?? DEFAULT_KEY_SCOPES,
      expiresAt: input.expiresAt ?? null,
    },
    include: { user: true },
  });
  return { key, view: toView(row) };
}

function toView(row: {
  id: string;
  name: string | null;
  prefix: string;
  scopes: string[];
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  user: { username: string };
}): ApiKeyView {
  return {
    id: row.id,
    name: row.name,
    user: row.user.username,
    prefix: row.prefix,
    scopes: row.scopes,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    revokedAt: row.revokedAt,
    lastUsedAt: row.lastUsedAt,
  };
}

export async function listApiKeys(
  db: PrismaClientOrTransaction,
  filter: { userId?: string } = {},
): Promise<ApiKeyView[]> {
  const rows = await db.apiKey.findMany({
    where: filter.userId ? { userId: filter.userId } : {},
    orderBy: { createdAt: "asc" },
    include: { user: true },
  });
  return rows.map(toView);
}

/** Revoke a key; with `userId`, only that user's own key. Returns the revoked key's view. */
export async function revokeApiKey(
  db: PrismaClientOrTransaction,
  keyId: string,
  now: Date,
  filter: { userId?: string } = {},
): Promise<ApiKeyView> {
  const row = await db.apiKey.findFirst({ where: { id: keyId, ...(filter.userId ? { userId: filter.userId } : {}) } });
  if (!row) throw apiError("resource_not_found", { kind: "API key", id: keyId });
  const updated = await db.apiKey.update({
    where: { id: keyId },
    data: { revokedAt: row.revokedAt ?? now },
    include: { user: true },
  });
  return toView(updated);
}

/** Who used a key from where: what a key's first use from an address records. */
export interface KeyUse {
  keyId: string;
  address: string;
  userId: string;
  username: string;
}

/** The audit action of a key's first use from an address. */
export const KEY_NEW_ADDRESS_ACTION = "keys.newAddress";

/** Addresses remembered per key; past this, a key's further new addresses are not recorded. */
const ADDRESSES_PER_KEY = 1000;

/**
 * Last-used times are kept in memory and written in one batch every few seconds, so using a
 * key never costs a database write on the request path. So are the addresses each key was used
 * from: a key's first use from an address (since this process started) is queued, and the flush
 * records the ones the audit log does not hold yet (`keys.newAddress`), so a restart does not
 * record them again.
 */
export class LastUsedTracker {
  private pending = new Map<string, number>();
  private seen = new Map<string, Set<string>>();
  private newUses: (KeyUse & { at: number })[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: PrismaClientOrTransaction,
    private readonly intervalMs = 15_000,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  touch(keyId: string, at: number): void {
    this.pending.set(keyId, at);
  }

  /** A use of a key from an address: two map lookups, and a queued row the first time. */
  usedFrom(use: KeyUse, at: number): void {
    let addresses = this.seen.get(use.keyId);
    if (!addresses) {
      addresses = new Set();
      this.seen.set(use.keyId, addresses);
    }
    if (addresses.has(use.address) || addresses.size >= ADDRESSES_PER_KEY) return;
    addresses.add(use.address);
    this.newUses.push({ ...use, at });
  }

  async flush(): Promise<void> {
    const uses = this.newUses;
    this.newUses = [];
    if (this.pending.size > 0) {
      const batch = this.pending;
      this.pending = new Map();
      // Group by timestamp second so one UPDATE covers many keys used in the same second.
      const bySecond = new Map<number, string[]>();
      for (const [id, at] of batch) {
        const second = Math.floor(at / 1000) * 1000;
        bySecond.set(second, [...(bySecond.get(second) ?? []), id]);
      }
      for (const [second, ids] of bySecond) {
        await this.db.apiKey.updateMany({ where: { id: { in: ids } }, data: { lastUsedAt: new Date(second) } });
      }
    }
    if (uses.length > 0) await this.recordNewAddresses(uses);
  }

  private async recordNewAddresses(uses: (KeyUse & { at: number })[]): Promise<void> {
    const known = await this.db.auditLog.findMany({
      where: {
        action: KEY_NEW_ADDRESS_ACTION,
        targetType: "api_key",
        targetId: { in: [...new Set(uses.map((u) => u.keyId))] },
      },
      select: { targetId: true, details: true },
    });
    const recorded = new Set(
      known.map((row) => `${row.targetId} ${String((row.details as { address?: unknown } | null)?.address)}`),
    );
    await recordAuditMany(
      this.db,
      uses
        .filter((use) => !recorded.has(`${use.keyId} ${use.address}`))
        .map((use) => ({
          actor: { userId: use.userId, username: use.username, via: "api_key" as const },
          record: {
            action: KEY_NEW_ADDRESS_ACTION,
            target: { type: "api_key", id: use.keyId },
            details: { address: use.address },
            at: new Date(use.at),
          },
        })),
    );
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
