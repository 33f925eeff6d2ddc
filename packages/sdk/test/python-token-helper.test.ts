import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmdirSync, statSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ManualClock } from "@switchyard/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TokenFile } from "../src/node";
import {
  approveInBrowser,
  freshHome,
  removeTempDirs,
  type SdkServer,
  startSdkServer,
  sy,
  syEnv,
  whoIs,
} from "./harness";

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const HELPER_SOURCE = new URL("../../../clients/python/switchyard_auth.py", import.meta.url);

/** The interpreter: SWITCHYARD_PYTHON (e.g. a Python 3.8 to check the oldest supported), else python3. */
function findPython(): string | undefined {
  const wanted = process.env.SWITCHYARD_PYTHON ?? "python3";
  const probe = spawnSync(wanted, ["-c", "import sys; print(sys.executable); print(sys.version_info >= (3, 8))"], {
    encoding: "utf8",
  });
  const [executable, recent] = (probe.stdout ?? "").trim().split("\n");
  if (probe.status === 0 && executable && recent === "True") return executable;
  const message = `no Python 3.8 or later as '${wanted}' (${probe.error?.message ?? probe.stderr?.trim() ?? "no output"})`;
  if (process.env.SWITCHYARD_REQUIRE_SERVICES === "1") {
    throw new Error(`${message}; SWITCHYARD_REQUIRE_SERVICES=1 forbids skipping`);
  }
  console.warn(`${message}: skipping the Python token helper's tests`);
  return undefined;
}

const python = findPython();

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A running Python process whose output can be awaited as it arrives. */
class PythonProcess {
  readonly child: ChildProcessWithoutNullStreams;
  stdout = "";
  stderr = "";
  exited = false;
  readonly done: Promise<Result>;

  constructor(args: string[], env: NodeJS.ProcessEnv, cwd: string) {
    this.child = spawn(python as string, args, { env, cwd, stdio: "pipe" });
    this.child.stdout.on("data", (chunk) => {
      this.stdout += String(chunk);
    });
    this.child.stderr.on("data", (chunk) => {
      this.stderr += String(chunk);
    });
    const killer = setTimeout(() => this.child.kill("SIGKILL"), 60_000);
    this.done = new Promise((resolve) => {
      this.child.on("close", (code) => {
        clearTimeout(killer);
        this.exited = true;
        resolve({ code, stdout: this.stdout, stderr: this.stderr });
      });
    });
  }

  async waitFor(stream: "stdout" | "stderr", pattern: RegExp): Promise<RegExpExecArray> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const match = pattern.exec(this[stream]);
      if (match) return match;
      if (this.exited || Date.now() > deadline) {
        throw new Error(`python never printed ${pattern}; stdout: ${this.stdout} stderr: ${this.stderr}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/**
 * clients/python/switchyard_auth.py, fetched from the server as users fetch it and run with the
 * machine's python3 against a real server whose clock the test moves (48 h, 7 days). It shares
 * the token file and its lock with `sy`, so the cases mix the two.
 */
describe.skipIf(!python)("the Python token helper (switchyard_auth.py)", () => {
  const clock = new ManualClock(Date.now());
  let h: SdkServer;
  const home = freshHome();
  let env: NodeJS.ProcessEnv;
  const helper = path.join(home.home, "switchyard_auth.py");

  const readTokens = () => JSON.parse(readFileSync(home.tokenFile, "utf8")) as TokenFile;
  const stored = () => readTokens().servers[h.url]!;
  const setExpiry = (at: number) => {
    const file = readTokens();
    file.servers[h.url]!.expires_at = new Date(at).toISOString();
    writeFileSync(home.tokenFile, JSON.stringify(file));
  };
  /** Make this machine believe the access token expired (as 48 h of wall time would). */
  const expireLocally = () => setExpiry(Date.now() - 1000);
  const run = (args: string[]) => new PythonProcess([helper, ...args], env, home.home).done;

  /** `authenticate` with the code it prints approved (or denied) in the "browser" as `username`. */
  async function authenticate(username: "ada" | "grace", args: string[] = []): Promise<Result> {
    const proc = new PythonProcess([helper, "authenticate", ...args], env, home.home);
    const [, code] = await proc.waitFor("stderr", /shows the code ([A-Z0-9]{4}-[A-Z0-9]{4})\./);
    const page = /^\s+(http:\/\/\S+\/device\?user_code=\S+)$/m.exec(proc.stderr)?.[1];
    expect(page).toContain(`user_code=${code}`);
    expect(await approveInBrowser(page!, username)).toContain("Device approved");
    return proc.done;
  }

  /** The refresh `sy` would make while it holds the lock: the refresh grant, then the file rewritten. */
  async function refreshAsSy(): Promise<string> {
    const session = stored();
    const res = await fetch(`${h.url}/auth/token`, {
      method: "POST",
      body: new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: session.refresh_token,
        client_id: session.client_id,
      }),
    });
    const tokens = (await res.json()) as { access_token: string; refresh_token: string; expires_in: number };
    expect(res.status).toBe(200);
    const file = readTokens();
    file.servers[h.url] = {
      ...session,
      access_token: tokens.access_token,
      refresh_token: tokens.refresh_token,
      expires_at: new Date(Date.now() + tokens.expires_in * 1000).toISOString(),
      refreshed_at: new Date().toISOString(),
    };
    writeFileSync(home.tokenFile, JSON.stringify(file, null, 2));
    return tokens.access_token;
  }

  beforeAll(async () => {
    h = await startSdkServer({ models: "minimal", clock });
    env = { ...syEnv(home, { SWITCHYARD_URL: h.url }), PYTHONDONTWRITEBYTECODE: "1" };
  });
  afterAll(async () => {
    await h?.close();
    removeTempDirs();
  });

  it("is served at /clients/switchyard_auth.py as it is in the repository, and parses as Python 3.8", async () => {
    const res = await fetch(`${h.url}/clients/switchyard_auth.py`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/x-python/);
    const served = await res.text();
    expect(served).toBe(readFileSync(HELPER_SOURCE, "utf8"));
    writeFileSync(helper, served);
    const syntax = spawnSync(
      python as string,
      ["-c", "import ast, sys; ast.parse(open(sys.argv[1]).read(), feature_version=(3, 8))", helper],
      { encoding: "utf8" },
    );
    expect(syntax.stderr).toBe("");
    expect(syntax.status).toBe(0);
  });

  it("says how to log in before any login (exit 2, nothing on stdout)", async () => {
    const result = await run(["get_access_token"]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(
      `switchyard_auth.py: Not logged in to ${h.url}. Run 'python3 switchyard_auth.py authenticate' (or 'sy login').\n`,
    );
  });

  it("authenticates with the device flow approved over HTTP, into sy's token file (0600), so sy shares the login", async () => {
    const result = await authenticate("ada");
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`Logged in to ${h.url} as ada.\n`);
    expect(statSync(home.tokenFile).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(home.tokenFile)).mode & 0o777).toBe(0o700);
    expect(readTokens().default_server).toBe(h.url);
    expect(stored()).toMatchObject({ username: "ada", client_id: "switchyard-auth-py", refreshed_at: null });

    const token = await run(["get_access_token"]);
    expect(token.code).toBe(0);
    expect(token.stdout).toBe(`${stored().access_token}\n`);
    expect(await whoIs(h.url, stored().access_token)).toEqual({ status: 200, username: "ada" });
    const whoami = await sy(["whoami", "--json"], env);
    expect(JSON.parse(whoami.stdout)).toMatchObject({ username: "ada", server: h.url });
    expect((await sy(["token"], env)).stdout.trim()).toBe(stored().access_token);
  });

  it("keeps a working login on a second authenticate; --force is the way to log in again", async () => {
    const before = stored();
    const again = await run(["authenticate"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(`Already logged in to ${h.url} as ada.\n`);
    expect(again.stderr).toContain("python3 switchyard_auth.py authenticate --force");
    expect(stored()).toEqual(before);
  });

  it("prints the time left in seconds, minutes or hours (negative once expired)", async () => {
    const fresh = Number((await run(["get_time_until_token_expiration", "--units", "hours"])).stdout);
    expect(fresh).toBeGreaterThan(47.9);
    expect(fresh).toBeLessThanOrEqual(48);

    const original = stored().expires_at;
    setExpiry(Date.now() + 90 * 60_000);
    const seconds = await run(["get_time_until_token_expiration"]); // seconds by default
    expect(seconds.code).toBe(0);
    expect(Number(seconds.stdout)).toBeGreaterThan(5380);
    expect(Number(seconds.stdout)).toBeLessThanOrEqual(5400);
    const minutes = Number((await run(["get_time_until_token_expiration", "--units", "minutes"])).stdout);
    expect(minutes).toBeGreaterThan(89.6);
    expect(minutes).toBeLessThanOrEqual(90);
    expect((await run(["get_time_until_token_expiration", "--units", "hours"])).stdout).toBe("1.5\n");

    setExpiry(Date.now() - 2 * HOUR);
    expect((await run(["get_time_until_token_expiration", "--units", "hours"])).stdout).toBe("-2.0\n");
    const bad = await run(["get_time_until_token_expiration", "--units", "days"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("invalid choice: 'days'");

    const file = readTokens();
    file.servers[h.url]!.expires_at = original;
    writeFileSync(home.tokenFile, JSON.stringify(file));
  });

  it("refreshes by itself once 48 h have passed, rotating the refresh token; the imported function too", async () => {
    const before = stored();
    clock.advance(48 * HOUR + 60_000);
    expect((await whoIs(h.url, before.access_token)).status).toBe(401);
    expireLocally();

    const result = await run(["get_access_token"]);
    expect(result.code).toBe(0);
    const after = stored();
    expect(result.stdout).toBe(`${after.access_token}\n`);
    expect(after.access_token).not.toBe(before.access_token);
    expect(after.refresh_token).not.toBe(before.refresh_token);
    expect(after.refreshed_at).not.toBeNull();
    expect(after.logged_in_at).toBe(before.logged_in_at);
    expect(await whoIs(h.url, after.access_token)).toEqual({ status: 200, username: "ada" });
    // sy reads what the helper wrote.
    expect((await sy(["token"], env)).stdout.trim()).toBe(after.access_token);

    expireLocally();
    const imported = await new PythonProcess(
      ["-c", "from switchyard_auth import get_access_token; print(get_access_token())"],
      env,
      home.home,
    ).done;
    expect(imported.code).toBe(0);
    expect(imported.stdout).toBe(`${stored().access_token}\n`);
    expect(await whoIs(h.url, stored().access_token)).toEqual({ status: 200, username: "ada" });
  });

  it("waits while sy holds the token file's lock, then uses the token sy got (one refresh token, one use)", async () => {
    const lock = `${home.tokenFile}.lock`;
    mkdirSync(lock, { mode: 0o700 }); // as sy makes it (fresh for 10 s, which this test stays within)
    expireLocally();
    const waiting = new PythonProcess([helper, "get_access_token"], env, home.home);
    try {
      const before = stored().refresh_token;
      await new Promise((r) => setTimeout(r, 1500));
      expect(waiting.exited).toBe(false);
      expect(stored().refresh_token).toBe(before); // it did not refresh behind the lock
      const fromSy = await refreshAsSy();
      rmdirSync(lock);
      const result = await waiting.done;
      expect(result.code).toBe(0);
      expect(result.stdout).toBe(`${fromSy}\n`);
      expect(await whoIs(h.url, fromSy)).toEqual({ status: 200, username: "ada" });
    } finally {
      if (!waiting.exited) waiting.child.kill();
    }
  });

  it("holds the same lock while it works, so sy waits for it", async () => {
    const holder = new PythonProcess(
      [
        "-c",
        "import sys, switchyard_auth\nwith switchyard_auth.TokenStore().locked():\n    print('locked', flush=True)\n    sys.stdin.readline()\n",
      ],
      env,
      home.home,
    );
    try {
      await holder.waitFor("stdout", /locked/);
      expect(statSync(`${home.tokenFile}.lock`).isDirectory()).toBe(true);
      expireLocally();
      const before = stored().refresh_token;
      const waiting = sy(["token"], env);
      // Past the 10 s after which an untouched lock is taken over: the helper keeps it fresh.
      await new Promise((r) => setTimeout(r, 12_000));
      expect(stored().refresh_token).toBe(before); // sy did not refresh behind the lock
      const fromHelper = await refreshAsSy();
      holder.child.stdin.end("\n");
      expect((await holder.done).code).toBe(0);
      const result = await waiting;
      expect(result.code).toBe(0);
      expect(result.stdout).toBe(`${fromHelper}\n`);
      expect(await whoIs(h.url, fromHelper)).toEqual({ status: 200, username: "ada" });
    } finally {
      if (!holder.exited) holder.child.kill();
    }
  }, 40_000);

  it("takes over a lock left by a process that died: sy's directory, or an older sy's pid@host file", async () => {
    const lock = `${home.tokenFile}.lock`;
    mkdirSync(path.dirname(lock), { recursive: true });
    const minuteAgo = new Date(Date.now() - 60_000);
    const takeLock = "import switchyard_auth\nwith switchyard_auth.TokenStore().locked():\n    print('locked')\n";
    for (const leave of [() => mkdirSync(lock), () => writeFileSync(lock, "4194305@elsewhere\n")]) {
      leave();
      utimesSync(lock, minuteAgo, minuteAgo);
      const started = Date.now();
      const result = await new PythonProcess(["-c", takeLock], env, home.home).done;
      expect([result.code, result.stdout, result.stderr]).toEqual([0, "locked\n", ""]);
      expect(Date.now() - started).toBeLessThan(3000);
      expect(existsSync(lock)).toBe(false);
    }
  });

  it("asks for a new login (exit 2) 7 days after the last one, with the command that does it", async () => {
    clock.advance(7 * DAY);
    expireLocally();
    const result = await run(["get_access_token"]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(
      /^switchyard_auth\.py: Login required for \S+: refresh tokens stop working 7 days after the last interactive login \(.*\); run 'python3 switchyard_auth\.py authenticate'\.\n$/,
    );
  });

  it("refuses a login approved as someone else (exit 2) and says how to switch; --force switches", async () => {
    const mismatch = await authenticate("grace");
    expect(mismatch.code).toBe(2);
    expect(mismatch.stderr).toContain(
      `Identity mismatch: the login was approved as 'grace', but this machine is logged in to ${h.url} as 'ada'`,
    );
    expect(mismatch.stderr).toContain(
      "Nothing was changed. To switch to 'grace', run 'python3 switchyard_auth.py authenticate --force'.",
    );
    expect(stored().username).toBe("ada");

    const forced = await authenticate("grace", ["--force"]);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toBe(`Logged in to ${h.url} as grace (replacing the login of ada).\n`);
    expect(JSON.parse((await sy(["whoami", "--json"], env)).stdout)).toMatchObject({ username: "grace" });
  });

  it("runs a script written for the reference service with only the base URL changed", async () => {
    // Saved under the reference helper's name, the script's import line stays as it was.
    writeFileSync(path.join(home.home, "inference_auth_token.py"), readFileSync(helper));
    const script = [
      "import json, sys, urllib.request",
      "from inference_auth_token import get_access_token",
      "",
      "access_token = get_access_token()",
      `base_url = "${h.url}/resource_server/lab/vllm/v1"`,
      "",
      "# What client.chat.completions.create(...) of the openai package sends.",
      "request = urllib.request.Request(",
      '    base_url + "/chat/completions",',
      '    data=json.dumps({"model": "org/chat", "messages": [{"role": "user", "content": "Explain quantum computing in simple terms."}]}).encode(),',
      '    headers={"Authorization": "Bearer " + access_token, "Content-Type": "application/json"},',
      ")",
      'print(json.load(urllib.request.urlopen(request))["choices"][0]["message"]["content"])',
    ].join("\n");
    const result = await new PythonProcess(["-c", script], env, home.home).done;
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout.trim().length).toBeGreaterThan(0);
  });
});
