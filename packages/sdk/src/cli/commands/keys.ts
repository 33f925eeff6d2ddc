import type { ApiKeyObject, CreateApiKeyRequest } from "@switchyard/core";
import { type Command, InvalidArgumentError } from "commander";
import type { CliContext } from "../context";
import { NUMBERS } from "../numbers";
import { formatTime } from "../output";
import type { Run } from "../program";

const SCOPES = ["inference", "batch", "keys", "admin"] as const;
type Scope = (typeof SCOPES)[number];

export function registerKeys(program: Command, run: Run): void {
  const keys = program.command("keys").description("your API keys, for services and scripts");
  keys
    .command("create")
    .description("create an API key; it is printed once, on stdout")
    .option("--name <name>", "what the key is for")
    .option("--scopes <list>", `comma-separated, of ${SCOPES.join(", ")} (default: inference,batch)`, scopeList)
    .option(
      "--expires-days <n>",
      "expire after this many days (0: never; default: the server's, 90 unless configured)",
      NUMBERS.days,
    )
    .action(run(create));
  keys.command("list").description("your keys (never their secrets)").action(run(list));
  keys
    .command("revoke")
    .description("revoke a key at once")
    .argument("<id>", "the key's id (key_...), from sy keys list")
    .action(run(revoke));
}

function scopeList(value: string): Scope[] {
  const scopes = value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (bad.length || scopes.length === 0)
    throw new InvalidArgumentError(`expected a comma-separated list of ${SCOPES.join(", ")}.`);
  return scopes as Scope[];
}

function keyStatus(key: ApiKeyObject): string {
  if (key.revoked_at) return "revoked";
  if (key.expires_at && Date.parse(key.expires_at) <= Date.now()) return "expired";
  return "active";
}

async function create(
  ctx: CliContext,
  options: { name?: string; scopes?: Scope[]; expiresDays?: number },
): Promise<void> {
  const body: CreateApiKeyRequest = {
    ...(options.name ? { name: options.name } : {}),
    ...(options.scopes ? { scopes: options.scopes } : {}),
    ...(options.expiresDays !== undefined ? { expires_days: options.expiresDays } : {}),
  };
  const created = await ctx.client().keys.create(body);
  if (ctx.json) {
    ctx.out.data(created);
    return;
  }
  const expiry = created.expires_at ? `expires ${formatTime(created.expires_at)}` : "never expires";
  ctx.err.para(
    `Created ${created.id}${created.name ? ` "${created.name}"` : ""} (scopes: ${created.scopes.join(", ")}; ${expiry}). ` +
      "Copy the key now: it is not shown again.",
  );
  ctx.out.line(created.key);
}

async function list(ctx: CliContext): Promise<void> {
  const keys = await ctx.client().keys.list();
  if (ctx.json) {
    ctx.out.data({ object: "list", data: keys });
    return;
  }
  if (keys.length === 0 && ctx.out.tty) {
    ctx.out.line("No API keys yet: sy keys create --name NAME");
    return;
  }
  const c = ctx.out.color;
  // The widest layout that fits the terminal: first the prefix and creation time give way, then
  // the time of day, then the last use. The id (for revoke) and the status are never cut; the
  // name and scopes are cut with an ellipsis.
  const layout = (prefix: boolean, created: boolean, time: boolean, lastUsed: boolean) => {
    const when = (iso: string | null) => (iso ? (time ? formatTime(iso) : formatTime(iso).slice(0, 10)) : "never");
    const headers = [
      "ID",
      "NAME",
      ...(prefix ? ["PREFIX"] : []),
      "SCOPES",
      "STATUS",
      ...(created ? ["CREATED"] : []),
      "EXPIRES",
      ...(lastUsed ? ["LAST USED"] : []),
    ];
    const rows = keys.map((k) => [
      k.id,
      k.name ?? "-",
      ...(prefix ? [`${k.prefix}…`] : []),
      k.scopes.join(","),
      keyStatus(k),
      ...(created ? [when(k.created_at)] : []),
      when(k.expires_at),
      ...(lastUsed ? [when(k.last_used_at)] : []),
    ]);
    return { headers, rows, fit: { shrink: [[1, headers.indexOf("SCOPES")]] } };
  };
  const layouts = [
    layout(true, true, true, true),
    layout(false, false, true, true),
    layout(false, false, false, true),
    layout(false, false, false, false),
  ];
  const { headers, rows, fit } =
    layouts.find((l) => ctx.out.fits(l.headers, l.rows, l.fit)) ?? (layouts.at(-1) as (typeof layouts)[number]);
  const statusColumn = headers.indexOf("STATUS");
  ctx.out.table(
    headers,
    rows,
    (column, cell) => (column === statusColumn ? (cell === "active" ? c.green(cell) : c.dim(cell)) : cell),
    fit,
  );
}

async function revoke(ctx: CliContext, _options: unknown, id: string): Promise<void> {
  const key = await ctx.client().keys.revoke(id);
  if (ctx.json) {
    ctx.out.data(key);
    return;
  }
  ctx.out.line(`Revoked ${key.id}${key.name ? ` "${key.name}"` : ""}.`);
}
