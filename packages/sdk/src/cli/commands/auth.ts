import { type Command, Option } from "commander";
import yoctoSpinner from "yocto-spinner";
import { AuthenticationError, LoginRequiredError } from "../../errors";
import { deviceLogin } from "../../node/device-login";
import type { CliContext } from "../context";
import { formatDuration } from "../output";
import type { Run } from "../program";

const UNITS = { seconds: 1, minutes: 60, hours: 3600 } as const;

export function registerAuth(program: Command, run: Run): void {
  program
    .command("login")
    .description("log in with the device flow: shows a URL and a code to approve in a browser, then stores the tokens")
    .option("--force", "log in again even when a login is stored (also to switch to another user)")
    .action(run(login));

  program.command("logout").description("revoke the stored tokens on the server and forget them").action(run(logout));

  program
    .command("whoami")
    .description("who the credentials belong to: user, role, groups, expiry")
    .action(run(whoami));

  const token = program
    .command("token")
    .description("print a valid access token (refreshed when needed), for $(sy token) in scripts")
    .action(run(printToken));
  token
    .command("expires")
    .description("time until the stored access token expires (a whole number)")
    .addOption(new Option("--units <units>", "unit of the number").choices(Object.keys(UNITS)).default("seconds"))
    .action(run(expires));
}

async function login(ctx: CliContext, options: { force?: boolean }): Promise<void> {
  const client = ctx.loginClient();
  const server = client.baseURL;
  if (!options.force && client.storedLogin()) {
    try {
      const me = await client.me();
      const session = client.storedLogin();
      const left = session ? Date.parse(session.expires_at) - Date.now() : 0;
      if (ctx.json) {
        ctx.out.line(
          JSON.stringify({
            event: "already_logged_in",
            server,
            username: me.username,
            expires_at: session?.expires_at ?? null,
          }),
        );
      } else {
        ctx.out.para(
          `Already logged in to ${server} as ${me.username} (the access token is valid for ${formatDuration(left)}).`,
        );
        ctx.err.line("To log in again, or as someone else: sy login --force");
      }
      return;
    } catch (error) {
      if (!(error instanceof LoginRequiredError) && !(error instanceof AuthenticationError)) throw error;
      // The stored login no longer works: log in again.
    }
  }

  const spinner =
    ctx.err.tty && !ctx.json
      ? yoctoSpinner({ text: "Waiting for approval (Ctrl-C to cancel)", stream: process.stderr })
      : undefined;
  try {
    const result = await deviceLogin({
      baseURL: server,
      tokenStore: ctx.store,
      force: options.force,
      env: ctx.env,
      signal: ctx.signal,
      onCode: (code) => {
        if (ctx.json) {
          ctx.out.line(
            JSON.stringify({
              event: "device_code",
              user_code: code.user_code,
              verification_uri: code.verification_uri,
              verification_uri_complete: code.verification_uri_complete,
              expires_in: code.expires_in,
            }),
          );
          return;
        }
        const c = ctx.err.color;
        ctx.err.line(`To log in to ${server}, open this page in a browser:`);
        ctx.err.line();
        ctx.err.line(`  ${c.bold(c.cyan(code.verification_uri_complete))}`);
        ctx.err.line();
        ctx.err.para(
          `and check that it shows the code ${c.bold(code.user_code)}. The code expires in ${formatDuration(code.expires_in * 1000)}.`,
        );
        if (spinner) spinner.start();
        else ctx.err.line("Waiting for approval (Ctrl-C to cancel)...");
      },
    });
    spinner?.stop();
    if (ctx.json) {
      ctx.out.line(
        JSON.stringify({
          event: "logged_in",
          server: result.server,
          username: result.username,
          expires_at: result.expiresAt.toISOString(),
          replaced: result.replaced,
          token_file: result.tokenFile,
        }),
      );
      return;
    }
    const replaced = result.replaced ? ` (replacing the login of ${result.replaced})` : "";
    ctx.out.para(`Logged in to ${result.server} as ${result.username}${replaced}.`);
    ctx.err.para(
      `The access token is valid for ${formatDuration(result.expiresAt.getTime() - Date.now())} and refreshes by itself; ` +
        "after 7 days without a login, run 'sy login' again.",
    );
  } finally {
    spinner?.stop();
  }
}

async function logout(ctx: CliContext): Promise<void> {
  const client = ctx.loginClient();
  const removed = await client.logout();
  if (ctx.json) {
    ctx.out.data({ server: client.baseURL, logged_out: removed !== undefined, username: removed?.username ?? null });
    return;
  }
  ctx.out.line(
    removed
      ? `Logged out of ${client.baseURL} (${removed.username}).`
      : `Not logged in to ${client.baseURL}; nothing to do.`,
  );
}

async function whoami(ctx: CliContext): Promise<void> {
  const client = ctx.client();
  const me = await client.me();
  if (ctx.json) {
    ctx.out.data({ ...me, server: client.baseURL });
    return;
  }
  const c = ctx.out.color;
  const expires = me.expires_at
    ? `expires in ${formatDuration(Date.parse(me.expires_at) - Date.now())}`
    : "never expires";
  const via =
    me.authenticated_via === "api_key"
      ? `API key ${me.api_key_id ?? ""} (scopes: ${me.scopes.join(", ")}; ${expires})`
      : me.authenticated_via === "oidc"
        ? `token from ${me.issuer ?? "an external issuer"} (${expires})`
        : `access token (${expires}; refreshes by itself)`;
  ctx.out.para(`${c.bold(me.username)} on ${client.baseURL}`);
  ctx.out.para(`  role:    ${me.role}`);
  ctx.out.para(`  groups:  ${me.groups.length ? me.groups.join(", ") : "(none)"}`);
  ctx.out.para(`  via:     ${via}`);
}

async function printToken(ctx: CliContext): Promise<void> {
  const client = ctx.loginClient();
  const token = await client.storedAccessToken();
  if (ctx.json) {
    const session = client.storedLogin();
    ctx.out.data({
      server: client.baseURL,
      username: session?.username ?? null,
      access_token: token,
      expires_at: session?.expires_at ?? null,
    });
    return;
  }
  ctx.out.line(token);
}

async function expires(ctx: CliContext, options: { units: keyof typeof UNITS }): Promise<void> {
  const client = ctx.loginClient();
  const session = client.storedLogin();
  if (!session) throw new LoginRequiredError(client.baseURL, "not_logged_in");
  const seconds = Math.max(0, Math.floor((Date.parse(session.expires_at) - Date.now()) / 1000));
  const value = Math.floor(seconds / UNITS[options.units]);
  if (ctx.json) {
    ctx.out.data({
      server: client.baseURL,
      username: session.username,
      expires_at: session.expires_at,
      expires_in: value,
      units: options.units,
    });
    return;
  }
  ctx.out.line(String(value));
}
