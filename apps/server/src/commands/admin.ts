import { userInfo } from "node:os";
import { createInterface } from "node:readline";
import type { SwitchyardConfig } from "@switchyard/core";
import type { Database } from "@switchyard/db";
import { DataDirLockedError } from "@switchyard/db/errors";
import { type Command, InvalidArgumentError, Option } from "commander";
import { CliError, type CliIO } from "../cli-io";
import { ConfigError, loadConfig } from "../config";
import { configOption, dataDirOption, resolveDataDir } from "./options";

interface DbFlags {
  dataDir: string;
  config?: string;
}

/**
 * Open the database the way `serve` does, for an admin command. When `serve` holds an embedded
 * data dir, say so and point to what works meanwhile instead of failing obscurely.
 */
async function withDatabase<T>(
  flags: DbFlags,
  io: CliIO,
  command: string,
  fn: (db: Database, config: SwitchyardConfig) => Promise<T>,
): Promise<T> {
  let config: SwitchyardConfig;
  try {
    ({ config } = await loadConfig(flags.config, io.env));
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message);
    throw error;
  }
  const { databaseOptions, openDatabase } = await import("@switchyard/db");
  let db: Database;
  try {
    db = await openDatabase(
      databaseOptions({
        dataDir: resolveDataDir(flags.dataDir),
        databaseUrl: io.env.DATABASE_URL,
        command: `switchyard ${command}`,
      }),
    );
  } catch (error) {
    if (error instanceof DataDirLockedError) {
      const url = error.holder.url ?? "the running server";
      throw new CliError(
        `${error.message}. While it runs, manage keys with 'sy keys create|list|revoke --server ${url}' ` +
          `(or POST ${url}/v1/keys) and users in the dashboard at ${url}/admin; or stop it, or use PostgreSQL (DATABASE_URL), which any number of processes can share.`,
      );
    }
    throw error;
  }
  try {
    await db.migrate();
    return await fn(db, config);
  } finally {
    await db.close();
  }
}

/** The control plane's audit log also records what operators change from the command line. */
async function audit(
  db: Database,
  action: string,
  target: { type: string; id: string },
  details?: Record<string, unknown>,
): Promise<void> {
  let who = "unknown";
  try {
    who = userInfo().username;
  } catch {
    // no passwd entry for this uid (containers): keep "unknown"
  }
  const { recordAudit } = await import("@switchyard/api/audit");
  await recordAudit(
    db.prisma,
    { userId: null, username: `cli:${who}`, via: "cli" },
    { action, target, ...(details ? { details } : {}), at: new Date() },
  );
}

/** Loaded when a command runs, so that `switchyard simulator` and others do not pay for it. */
const authLib = () => import("@switchyard/auth");

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return `${rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")}\n`;
}

const date = (d: Date | null) => (d ? d.toISOString().replace(/\.\d{3}Z$/, "Z") : "-");

function wholeNumber(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("must be a whole number (0: never)");
  return Number(value);
}

async function readStdinLine(): Promise<string> {
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    rl.close();
    return line;
  }
  return "";
}

export function registerAdmin(program: Command, io: CliIO): void {
  const collect = (value: string, previous: string[] = []) => [...previous, value];
  const withDb = (command: Command) => command.addOption(dataDirOption()).addOption(configOption());

  const users = program.command("users").description("manage users (works while serve is stopped, or on PostgreSQL)");
  withDb(
    users
      .command("create")
      .description("create a user; without --password a random one is generated and shown once")
      .argument("<name>", "username")
      .option("--password <password>", "the password (visible in your shell history; prefer --password-stdin)")
      .option("--password-stdin", "read the password from standard input")
      .option("--group <group>", "add to a group (repeat for several)", collect, [])
      .option("--admin", "give the admin role"),
  ).action(
    async (
      name: string,
      flags: DbFlags & { password?: string; passwordStdin?: boolean; group: string[]; admin?: boolean },
    ) => {
      const given = flags.passwordStdin ? await readStdinLine() : flags.password;
      if (given !== undefined && given.length < 8) throw new CliError("the password must have at least 8 characters");
      const password = given ?? (await authLib()).randomPassword();
      const user = await withDatabase(flags, io, "users create", async (db) => {
        const created = await (await authLib()).createUser(db.prisma, {
          username: name,
          password,
          role: flags.admin ? "admin" : "user",
          groups: flags.group,
        });
        await audit(
          db,
          "users.create",
          { type: "user", id: created.username },
          {
            role: created.role,
            groups: created.groups,
            passwordGenerated: given === undefined,
          },
        );
        return created;
      });
      io.out(
        `created user ${user.username} (${user.role}${user.groups.length ? `; groups: ${user.groups.join(", ")}` : ""})\n`,
      );
      if (given === undefined) io.out(`password: ${password}\n(shown once; they can log in with 'sy login')\n`);
    },
  );
  withDb(users.command("list").description("list users").option("--json", "machine-readable output")).action(
    async (flags: DbFlags & { json?: boolean }) => {
      const all = await withDatabase(flags, io, "users list", async (db) => (await authLib()).listUsers(db.prisma));
      if (flags.json) {
        io.out(`${JSON.stringify(all, null, 2)}\n`);
        return;
      }
      io.out(
        table([
          ["USERNAME", "ROLE", "GROUPS", "CREATED", "LAST LOGIN"],
          ...all.map((u) => [u.username, u.role, u.groups.join(",") || "-", date(u.createdAt), date(u.lastLoginAt)]),
        ]),
      );
    },
  );

  const groups = program.command("groups").description("manage group membership");
  withDb(
    groups
      .command("add-member")
      .description("add a user to a group (created if new)")
      .argument("<group>")
      .argument("<user>"),
  ).action(async (group: string, user: string, flags: DbFlags) => {
    await withDatabase(flags, io, "groups add-member", async (db) => {
      await (await authLib()).addGroupMember(db.prisma, group, user);
      await audit(db, "groups.addMember", { type: "group", id: group }, { username: user });
    });
    io.out(`${user} is now in group ${group}\n`);
  });

  const keys = program.command("keys").description("manage API keys for services");
  withDb(
    keys
      .command("create")
      .description("create an API key; it is printed once")
      .requiredOption("--user <name>", "the user the key acts as")
      .option("--name <label>", "a label to recognise it by")
      .addOption(
        new Option(
          "--expires-days <n>",
          "expire after N days (0: never; default: auth.apiKeyDefaultExpiryDays, 90 unless configured)",
        ).argParser(wholeNumber),
      )
      .addOption(
        new Option("--scope <scope>", "what the key may do (repeat; default: inference and batch)")
          .choices(["inference", "batch", "keys", "admin"])
          .argParser(collect),
      )
      .option("--json", "print {key, id, user, expires_at} as JSON"),
  ).action(
    async (
      flags: DbFlags & { user: string; name?: string; expiresDays?: number; scope?: string[]; json?: boolean },
    ) => {
      const created = await withDatabase(flags, io, "keys create", async (db, config) => {
        const user = await db.prisma.user.findUnique({ where: { username: flags.user } });
        if (!user)
          throw new CliError(
            `there is no user '${flags.user}'; create it with 'switchyard users create ${flags.user}'`,
          );
        if (flags.scope?.includes("admin") && user.role !== "admin")
          throw new CliError(`${flags.user} is not an admin; an admin-scoped key needs the admin role`);
        const key = await (await authLib()).createApiKey(db.prisma, {
          userId: user.id,
          name: flags.name,
          expiresAt: (await authLib()).apiKeyExpiry(flags.expiresDays, config.auth.apiKeyDefaultExpiryDays, Date.now()),
          ...(flags.scope ? { scopes: flags.scope as ("inference" | "batch" | "keys" | "admin")[] } : {}),
        });
        await audit(
          db,
          "keys.create",
          { type: "api_key", id: key.view.id },
          {
            owner: key.view.user,
            name: key.view.name,
            scopes: key.view.scopes,
          },
        );
        return key;
      });
      if (flags.json) {
        io.out(
          `${JSON.stringify({ key: created.key, id: created.view.id, user: created.view.user, name: created.view.name, scopes: created.view.scopes, expires_at: created.view.expiresAt?.toISOString() ?? null })}\n`,
        );
        return;
      }
      io.out(`${created.key}\n`);
      io.err(
        `created ${created.view.id} for ${created.view.user} (scopes: ${created.view.scopes.join(", ")}${created.view.expiresAt ? `; expires ${date(created.view.expiresAt)}` : ""}). The key is shown only now.\n`,
      );
    },
  );
  withDb(
    keys
      .command("list")
      .description("list API keys")
      .option("--user <name>", "only this user's keys")
      .option("--json", "machine-readable output"),
  ).action(async (flags: DbFlags & { user?: string; json?: boolean }) => {
    const all = await withDatabase(flags, io, "keys list", async (db) => {
      const keys = await (await authLib()).listApiKeys(db.prisma);
      return flags.user ? keys.filter((k) => k.user === flags.user) : keys;
    });
    if (flags.json) {
      io.out(`${JSON.stringify(all, null, 2)}\n`);
      return;
    }
    io.out(
      table([
        ["ID", "USER", "NAME", "PREFIX", "SCOPES", "CREATED", "EXPIRES", "REVOKED", "LAST USED"],
        ...all.map((k) => [
          k.id,
          k.user,
          k.name ?? "-",
          `${k.prefix}...`,
          k.scopes.join(","),
          date(k.createdAt),
          date(k.expiresAt),
          date(k.revokedAt),
          date(k.lastUsedAt),
        ]),
      ]),
    );
  });
  withDb(
    keys
      .command("revoke")
      .description("revoke an API key (effective everywhere within seconds)")
      .argument("<id>", "key id (key_...)"),
  ).action(async (id: string, flags: DbFlags) => {
    const view = await withDatabase(flags, io, "keys revoke", async (db) => {
      const revoked = await (await authLib()).revokeApiKey(db.prisma, id, new Date());
      await audit(db, "keys.revoke", { type: "api_key", id: revoked.id }, { owner: revoked.user, name: revoked.name });
      return revoked;
    });
    io.out(`revoked ${view.id} (${view.user})\n`);
  });
}
