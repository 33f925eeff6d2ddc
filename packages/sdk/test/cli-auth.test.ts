import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ManualClock, MeSchema } from "@switchyard/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TokenFile } from "../src/node";
import {
  approveInBrowser,
  freshHome,
  removeTempDirs,
  type SdkServer,
  SyProcess,
  startSdkServer,
  sy,
  syEnv,
  whoIs,
} from "./harness";

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/**
 * `sy login` and the stored tokens, with the CLI as a subprocess against a real server whose
 * clock the test moves (48 h for the access token, 7 days for the refresh limit).
 */
describe("sy login, tokens and identity", () => {
  const clock = new ManualClock(Date.now());
  let h: SdkServer;
  const home = freshHome();
  let env: NodeJS.ProcessEnv;

  const readTokens = () => JSON.parse(readFileSync(home.tokenFile, "utf8")) as TokenFile;
  const stored = () => readTokens().servers[h.url]!;
  /** Make this machine believe the access token expired (as 48 h of wall time would). */
  const expireLocally = () => {
    const file = readTokens();
    file.servers[h.url]!.expires_at = new Date(Date.now() - 1000).toISOString();
    writeFileSync(home.tokenFile, JSON.stringify(file));
  };

  /** Run `sy login` and approve the code it prints in the "browser" as `username`. */
  async function login(username: "ada" | "grace", args: string[] = [], action: "approve" | "deny" = "approve") {
    const proc = new SyProcess(["login", ...args], env);
    // The URL and the code are on separate lines, which may arrive in separate chunks: wait for the later one.
    const [, code] = await proc.waitFor("stderr", /shows the code ([A-Z0-9]{4}-[A-Z0-9]{4})\./);
    const page = /^\s+(http:\/\/\S+\/device\?user_code=\S+)$/m.exec(proc.stderr)?.[1];
    expect(page).toContain(`user_code=${code}`);
    const answer = await approveInBrowser(page!, username, action);
    expect(answer).toContain(action === "approve" ? "Device approved" : "Request denied");
    return proc.done;
  }

  beforeAll(async () => {
    h = await startSdkServer({ models: "minimal", clock });
    env = syEnv(home, { SWITCHYARD_URL: h.url });
  });
  afterAll(async () => {
    await h?.close();
    removeTempDirs();
  });

  it("says 'not logged in' with the fix (exit 2) before any login", async () => {
    const result = await sy(["whoami"], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`Not logged in to ${h.url}`);
    expect(result.stderr).toContain("sy login");
  });

  it("logs in with the device flow, approved through the server's /device page, and stores the tokens privately", async () => {
    const result = await login("ada");
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`Logged in to ${h.url} as ada.\n`);
    expect(result.stderr).toMatch(/The code expires in 10 min/);
    expect(statSync(home.tokenFile).mode & 0o777).toBe(0o600);
    const file = readTokens();
    expect(file.default_server).toBe(h.url);
    expect(Object.keys(file.servers)).toEqual([h.url]);
    expect(stored()).toMatchObject({ username: "ada", client_id: "sy-cli", refreshed_at: null });
    const left = Date.parse(stored().expires_at) - Date.now();
    expect(left).toBeGreaterThan(47.9 * HOUR);
    expect(left).toBeLessThanOrEqual(48 * HOUR);
  });

  it("prints a token that works as a bearer token, and how long it has left", async () => {
    const token = await sy(["token"], env);
    expect(token.code).toBe(0);
    expect(token.stdout.trim()).toBe(stored().access_token);
    expect(await whoIs(h.url, token.stdout.trim())).toEqual({ status: 200, username: "ada" });

    const hours = await sy(["token", "expires", "--units", "hours"], env);
    expect(hours.stdout).toBe("47\n");
    const minutes = await sy(["token", "expires", "--units", "minutes"], env);
    expect(Number(minutes.stdout)).toBeGreaterThanOrEqual(2878);
    expect(Number(minutes.stdout)).toBeLessThanOrEqual(2880);
    const seconds = await sy(["token", "expires"], env);
    expect(Number(seconds.stdout)).toBeGreaterThan(47.9 * 3600);
    const json = JSON.parse((await sy(["token", "expires", "--json"], env)).stdout);
    expect(json).toMatchObject({ server: h.url, username: "ada", units: "seconds", expires_at: stored().expires_at });
  });

  it("whoami says who is logged in; --json is the server's /v1/me plus the server", async () => {
    const human = await sy(["whoami"], env);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`ada on ${h.url}`);
    expect(human.stdout).toMatch(/via: +access token \(expires in 4[78] h/);
    const json = JSON.parse((await sy(["whoami", "--json"], env)).stdout);
    expect(MeSchema.parse(json)).toMatchObject({ username: "ada", authenticated_via: "access_token", role: "user" });
    expect(json.server).toBe(h.url);
  });

  it("does not start a new login when the stored one works (--force does)", async () => {
    const again = await sy(["login"], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^Already logged in to .* as ada/);
    expect(again.stderr).toContain("sy login --force");
    expect(again.stderr).not.toContain("/device");
  });

  it("refreshes by itself once the server says 48 h have passed, rotating the refresh token", async () => {
    const before = stored();
    clock.advance(48 * HOUR + 60_000);
    expect((await whoIs(h.url, before.access_token)).status).toBe(401); // the old token is now expired
    const result = await sy(["whoami", "--json"], env);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).username).toBe("ada");
    const after = stored();
    expect(after.access_token).not.toBe(before.access_token);
    expect(after.refresh_token).not.toBe(before.refresh_token);
    expect(after.refreshed_at).not.toBeNull();
    expect(after.logged_in_at).toBe(before.logged_in_at);
    // `sy token` hands out the new one, and it works.
    const token = (await sy(["token"], env)).stdout.trim();
    expect(token).toBe(after.access_token);
    expect((await whoIs(h.url, token)).status).toBe(200);
  });

  it("refreshes before use when this machine's clock says the token expired", async () => {
    const before = stored();
    expireLocally();
    const token = await sy(["token"], env);
    expect(token.code).toBe(0);
    expect(token.stdout.trim()).not.toBe(before.access_token);
    expect((await whoIs(h.url, token.stdout.trim())).status).toBe(200);
  });

  it("lets scripts call $(sy token) in parallel without presenting a refresh token twice", async () => {
    expireLocally();
    const results = await Promise.all(Array.from({ length: 4 }, () => sy(["token"], env)));
    expect(results.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    const tokens = new Set(results.map((r) => r.stdout.trim()));
    expect(tokens.size).toBe(1); // one refresh; the others found its result
    for (const token of tokens) expect((await whoIs(h.url, token)).status).toBe(200);
    // The session survived: reuse of a refresh token would have revoked it.
    expireLocally();
    expect((await sy(["token"], env)).code).toBe(0);
  });

  it("asks for a new login (exit 2) 7 days after the last one, however often it refreshed", async () => {
    clock.advance(7 * DAY);
    expireLocally();
    const result = await sy(["token"], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^sy: Login required for \S+: refresh tokens stop working 7 days after the last interactive login \(.*\); run 'sy login'\.\n$/,
    );
    expect(result.stdout).toBe("");
  });

  it("refuses a login approved as someone else (exit 2) and says how to switch; --force switches", async () => {
    const mismatch = await login("grace");
    expect(mismatch.code).toBe(2);
    expect(mismatch.stderr).toContain(
      `Identity mismatch: the login was approved as 'grace', but this machine is logged in to ${h.url} as 'ada'`,
    );
    expect(mismatch.stderr).toContain("run 'sy logout' and then 'sy login', or 'sy login --force'");
    expect(stored().username).toBe("ada"); // nothing changed

    const forced = await login("grace", ["--force"]);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toBe(`Logged in to ${h.url} as grace (replacing the login of ada).\n`);
    const me = JSON.parse((await sy(["whoami", "--json"], env)).stdout);
    expect(me).toMatchObject({ username: "grace", groups: ["physics"] });
  });

  it("fails a denied login with exit 2 and stores nothing new", async () => {
    const before = stored();
    const denied = await login("ada", ["--force"], "deny");
    expect(denied.code).toBe(2);
    expect(denied.stderr).toContain("The login was denied");
    expect(stored()).toEqual(before);
  });

  it("logs out: revokes the session on the server and forgets it here", async () => {
    const before = stored();
    const result = await sy(["logout"], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`Logged out of ${h.url} (grace).\n`);
    expect(readTokens().servers).toEqual({});
    const refresh = await fetch(`${h.url}/auth/token`, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: before.refresh_token }),
    });
    expect(refresh.status).toBe(400);
    expect(((await refresh.json()) as { error: string }).error).toBe("invalid_grant");
    // The access token was revoked too, at once (the server forgets its cached credentials).
    expect((await whoIs(h.url, before.access_token)).status).toBe(401);
    expect((await sy(["whoami"], env)).code).toBe(2);
    expect((await sy(["logout"], env)).stdout).toContain("Not logged in");
    // The next command still talks to the server last used (to say "not logged in" there), not to
    // the built-in default address.
    expect(readTokens().default_server).toBe(h.url);
    const { SWITCHYARD_URL: _, ...withoutUrl } = env;
    const after = await sy(["whoami"], withoutUrl);
    expect(after.code).toBe(2);
    expect(after.stderr).toContain(h.url);
  });

  it("explains a damaged token file with the fix and no stack trace; login --force starts a new one", async () => {
    mkdirSync(path.dirname(home.tokenFile), { recursive: true });
    writeFileSync(home.tokenFile, '{"version": 1, "servers": {');
    const result = await sy(["whoami"], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`The token file ${home.tokenFile} is not valid JSON`);
    expect(result.stderr).toContain("sy login --force");
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(result.stderr.trim().split("\n")).toHaveLength(1);

    const plain = await sy(["login"], env);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain("is not valid JSON");

    const forced = await login("ada", ["--force"]);
    expect(forced.code).toBe(0);
    expect(readFileSync(`${home.tokenFile}.corrupt`, "utf8")).toBe('{"version": 1, "servers": {');
    expect(stored().username).toBe("ada");
  });

  it("takes the server from --server over SWITCHYARD_URL, and keeps one entry per server", async () => {
    const other = await sy(["whoami", "--server", "http://127.0.0.1:9"], env);
    expect(other.code).toBe(2); // no login stored for that server
    expect(other.stderr).toContain("Not logged in to http://127.0.0.1:9.");
    // Without --server or SWITCHYARD_URL, the server of the last login is used.
    const { SWITCHYARD_URL: _, ...withoutUrl } = env;
    const fallback = await sy(["whoami", "--json"], withoutUrl);
    expect(JSON.parse(fallback.stdout)).toMatchObject({ username: "ada", server: h.url });
  });

  it("prints the device code as JSON lines with --json", async () => {
    const proc = new SyProcess(["login", "--force", "--json"], env);
    const [line] = await proc.waitFor("stdout", /^\{.*\}$/m);
    const event = JSON.parse(line!);
    expect(event).toMatchObject({
      event: "device_code",
      user_code: expect.stringMatching(/^[A-Z0-9]{4}-[A-Z0-9]{4}$/),
    });
    await approveInBrowser(event.verification_uri_complete, "ada");
    const result = await proc.done;
    expect(result.code).toBe(0);
    const lines = result.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines[1]).toMatchObject({ event: "logged_in", server: h.url, username: "ada", token_file: home.tokenFile });
    expect(result.stderr).toBe("");
  });
});
