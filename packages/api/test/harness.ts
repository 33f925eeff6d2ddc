import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { AuthService, createApiKey, createUser } from "@switchyard/auth";
import { BatchService, FileStore } from "@switchyard/batch";
import { AuthSchema, type SwitchyardConfig, type SwitchyardConfigInput, validateConfig } from "@switchyard/core";
import { syncCatalog } from "@switchyard/db";
import { openTestDatabase, type TestDatabase, type TestDriver } from "@switchyard/db/testing";
import type { RouteScope } from "@switchyard/http";
import { LocalLauncher, Scheduler } from "@switchyard/scheduler";
import { TRPCError } from "@trpc/server";
import { pino } from "pino";
import { expect } from "vitest";
import { type ApiDeps, contextFromCredentials, createCaller } from "../src";

/** The switchyard binary runs the simulator; a test-only path into apps/server, as the scheduler's tests use. */
const SWITCHYARD_BIN = fileURLToPath(new URL("../../../apps/server/bin/switchyard-source.mjs", import.meta.url));

export const quiet = pino({ level: process.env.SY_TEST_LOG ?? "silent" });

/** A small lab: one hot model, two dynamic ones (one restricted to `physics`), on a local launcher. */
export function labConfig(overrides: Partial<SwitchyardConfigInput> = {}): SwitchyardConfig {
  const sim = { type: "simulator" as const, loadTime: "200ms", profile: "fast" as const };
  const result = validateConfig({
    scheduler: { tickInterval: "100ms", busyWindow: 0, minStartTimeout: "30s", stopGrace: "2s", drainTimeout: "5s" },
    clusters: [
      {
        name: "lab",
        displayName: "Lab",
        nodes: [
          { name: "hot-1", gpus: 2, role: "hot" },
          { name: "rot-1", gpus: 4, role: "rotating" },
        ],
        frameworks: ["vllm"],
      },
      { name: "future", status: "coming_soon", frameworks: ["vllm"] },
    ],
    models: [
      {
        id: "org/hot",
        cluster: "lab",
        framework: "vllm",
        family: "Org",
        capabilities: ["chat", "completions", "batch", "tools"],
        placement: "hot",
        node: "hot-1",
        engine: sim,
      },
      {
        id: "org/dyn",
        cluster: "lab",
        framework: "vllm",
        capabilities: ["chat", "reasoning", "vision"],
        placement: "dynamic",
        gpus: 2,
        aliases: ["dyn"],
        engine: sim,
      },
      {
        id: "org/secret",
        cluster: "lab",
        framework: "vllm",
        capabilities: ["chat"],
        placement: "dynamic",
        gpus: 2,
        allowedGroups: ["physics"],
        engine: sim,
      },
    ],
    ...overrides,
  });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.config;
}

export interface Harness {
  deps: ApiDeps;
  db: TestDatabase;
  /** Access tokens of `root` (admin), `ada` (user) and `grace` (user in `physics`). */
  tokens: { admin: string; user: string; member: string };
  /** A caller with these credentials (a token or key; none: anonymous). */
  as(credential?: string): Promise<ReturnType<typeof createCaller>>;
  /** An API key of a user with the given scopes. */
  key(username: string, scopes: RouteScope[]): Promise<string>;
  close(): Promise<void>;
}

export async function startHarness(
  driver: TestDriver,
  options: {
    scheduler?: boolean;
    batches?: boolean;
    /** Config beside the lab's clusters and models (e.g. `controlPlane`). */
    config?: Partial<SwitchyardConfigInput>;
    /** Auth settings (e.g. `principalCacheTtl`). */
    auth?: Record<string, unknown>;
  } = {},
): Promise<Harness> {
  const dir = mkdtempSync(path.join(tmpdir(), "sy-api-"));
  const config = labConfig(options.config);
  const db = await openTestDatabase(driver);
  await syncCatalog(db.prisma, config);
  const clock = { now: () => Date.now() };
  const auth = await AuthService.create({
    db: db.prisma,
    settings: AuthSchema.parse(options.auth ?? {}),
    clock,
    logger: quiet,
    issuer: () => "http://switchyard.test",
  });
  const engines = { switchyardBin: SWITCHYARD_BIN, loadTimeScale: 1 };
  const scheduler = new Scheduler({
    db,
    config,
    clock,
    logger: quiet,
    launchers: new Map([
      ["lab", new LocalLauncher({ logDir: path.join(dir, "logs"), engines, stopGraceMs: 2000, logger: quiet })],
    ]),
    engines,
    // Most suites only read state; the deployment suite runs the loop to see models come up.
    autoTick: options.scheduler ?? false,
  });
  await scheduler.start();
  const deps: ApiDeps = { config, db, auth, scheduler, clock, logger: quiet };
  if (options.batches) {
    // The service alone, without a worker: suites put batch rows in place and read or cancel them.
    const files = new FileStore(db.prisma, path.join(dir, "files"), clock);
    deps.batches = {
      service: new BatchService({ db, settings: config.batch, files, clock, allowedDirs: () => [dir] }),
    };
  }

  const users = {
    admin: await createUser(db.prisma, { username: "root", password: "root-password-1", role: "admin" }),
    user: await createUser(db.prisma, { username: "ada", password: "ada-password-1" }),
    member: await createUser(db.prisma, { username: "grace", password: "grace-password-1", groups: ["physics"] }),
  };
  const token = async (userId: string) =>
    (await auth.issueTokens(userId, { clientId: "test", scope: "", authTime: new Date() })).access_token;
  const tokens = {
    admin: await token(users.admin.id),
    user: await token(users.user.id),
    member: await token(users.member.id),
  };
  return {
    deps,
    db,
    tokens,
    async as(credential) {
      return createCaller(await contextFromCredentials(deps, credential ? `Bearer ${credential}` : undefined));
    },
    async key(username, scopes) {
      const user = await db.prisma.user.findUniqueOrThrow({ where: { username } });
      return (await createApiKey(db.prisma, { userId: user.id, scopes })).key;
    },
    async close() {
      await scheduler.close();
      await auth.close();
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Expect a call to fail with a tRPC code (and, optionally, the catalogue code and a message). */
export async function expectError(
  call: Promise<unknown>,
  code: TRPCError["code"],
  match: { switchyard?: string; message?: RegExp } = {},
): Promise<TRPCError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected ${code}`).toBeInstanceOf(TRPCError);
  const trpc = error as TRPCError;
  expect(trpc.code, trpc.message).toBe(code);
  if (match.switchyard) expect((trpc.cause as { code?: string } | undefined)?.code).toBe(match.switchyard);
  if (match.message) expect(trpc.message).toMatch(match.message);
  return trpc;
}

/** Poll until `check` holds (real processes take real time). */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for: ${what}`);
}
