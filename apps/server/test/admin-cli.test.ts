import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createPostgresDatabase, testDrivers } from "@switchyard/db/testing";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../src/cli";

const BIN = fileURLToPath(new URL("../bin/switchyard-source.mjs", import.meta.url));
const temp = mkdtempSync(path.join(tmpdir(), "sy-admin-"));
afterAll(() => rmSync(temp, { recursive: true, force: true }));
const drivers = await testDrivers();

function start(args: string[], env: Record<string, string> = {}, stdin?: string): ChildProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, SWITCHYARD_LOG_FORMAT: "json", ...env },
  });
  if (stdin !== undefined) child.stdin?.end(stdin);
  return child;
}

/**
 * An admin command, run in-process through the CLI's own entry point (what it prints, its exit
 * code): each `switchyard` process costs 1-2 s of a busy machine to start, and cli.test.ts
 * already covers the binary itself. Commands that read standard input run as processes.
 */
async function run(args: string[], env: Record<string, string> = {}, stdin?: string) {
  if (stdin !== undefined) return runProcess(args, env, stdin);
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, {
    out: (text) => (stdout += text),
    err: (text) => (stderr += text),
    env: { PATH: process.env.PATH, HOME: process.env.HOME, SWITCHYARD_LOG_FORMAT: "json", ...env },
  });
  return { code, stdout, stderr };
}

function runProcess(args: string[], env: Record<string, string> = {}, stdin?: string) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = start(args, env, stdin);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d) => (stdout += d));
    child.stderr?.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function serve(args: string[], env: Record<string, string> = {}) {
  const child = start(["serve", "--port", "0", ...args], env);
  let stderr = "";
  let stdout = "";
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  const url = new Promise<string>((resolve, reject) => {
    child.stderr?.on("data", (d) => {
      stderr += d;
      const match = /Switchyard is up: (http:\/\/\S+)/.exec(stderr);
      if (match?.[1]) resolve(match[1]);
    });
    child.stdout?.on("data", (d) => (stdout += d));
    void exited.then((code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  return { child, url, exited, output: () => ({ stdout, stderr }) };
}

async function me(url: string, key: string) {
  const res = await fetch(`${url}/v1/me`, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

// One small hot model, so each serve here launches one simulator rather than the catalog's ten.
const SMALL_CONFIG = path.join(temp, "small.yaml");
writeFileSync(
  SMALL_CONFIG,
  `clusters:
  - name: lab
    nodes: [{ name: n1, gpus: 1, role: hot }]
    frameworks: [vllm]
models:
  - { id: org/chat, cluster: lab, framework: vllm, capabilities: [chat], placement: hot, node: n1, engine: { type: simulator, loadTime: 100ms } }
`,
);

// The tests share nothing (each its own data dir or database), so they run side by side.
describe("admin commands on the embedded data dir", { concurrent: true }, () => {
  const dataDir = path.join(temp, "embedded");
  const db = ["--data-dir", dataDir, "--config", SMALL_CONFIG];

  it("creates users, groups and keys while serve is stopped; the key works once it runs", async () => {
    const created = await run(
      ["users", "create", "alice", "--password-stdin", "--group", "physics", ...db],
      {},
      "alice-secret-1\n",
    );
    expect(created).toMatchObject({ code: 0 });
    expect(created.stdout).toContain("created user alice (user; groups: physics)");
    const generated = await run(["users", "create", "bob", "--admin", ...db]);
    expect(generated.stdout).toMatch(/password: \S{20}\n\(shown once/);
    expect((await run(["users", "create", "alice", ...db])).stderr).toMatch(
      /switchyard: The user 'alice' already exists/,
    );
    expect((await run(["users", "create", "not valid!", ...db])).code).toBe(1);
    expect((await run(["groups", "add-member", "auroragpt", "alice", ...db])).stdout).toContain(
      "alice is now in group auroragpt",
    );
    expect((await run(["groups", "add-member", "x", "nobody", ...db])).stderr).toMatch(/There is no user 'nobody'/);

    const list = await run(["users", "list", ...db]);
    expect(list.stdout).toMatch(/^USERNAME\s+ROLE\s+GROUPS/);
    expect(list.stdout).toMatch(/alice\s+user\s+auroragpt,physics/);
    expect(list.stdout).toMatch(/bob\s+admin/);

    const key = await run([
      "keys",
      "create",
      "--user",
      "alice",
      "--name",
      "pipeline",
      "--expires-days",
      "30",
      "--json",
      ...db,
    ]);
    expect(key.code).toBe(0);
    const json = JSON.parse(key.stdout) as { key: string; id: string; user: string; expires_at: string };
    expect(json).toMatchObject({
      key: expect.stringMatching(/^sy_/),
      id: expect.stringMatching(/^key_/),
      user: "alice",
    });
    expect(new Date(json.expires_at).getTime()).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    expect((await run(["keys", "create", "--user", "nobody", ...db])).stderr).toMatch(/there is no user 'nobody'/);
    expect((await run(["keys", "create", "--user", "alice", "--scope", "admin", ...db])).stderr).toMatch(
      /not an admin/,
    );
    expect((await run(["keys", "create", "--user", "alice", "--expires-days", "soon", ...db])).code).toBe(2);

    const server = serve(db);
    const url = await server.url;
    try {
      expect(await me(url, json.key)).toMatchObject({
        status: 200,
        body: { username: "alice", groups: ["auroragpt", "physics"] },
      });
      // What the commands changed is in the control plane's audit log, attributed to the CLI.
      const bobPassword = /password: (\S+)/.exec(generated.stdout)?.[1] ?? "";
      const token = (
        (await (
          await fetch(`${url}/auth/token`, {
            method: "POST",
            body: new URLSearchParams({ grant_type: "password", username: "bob", password: bobPassword }),
          })
        ).json()) as { access_token: string }
      ).access_token;
      const audit = (await (
        await fetch(`${url}/trpc/audit.list`, { headers: { authorization: `Bearer ${token}` } })
      ).json()) as {
        result: { data: { entries: { action: string; target: { id: string }; actor: { via: string } }[] } };
      };
      const byCli = audit.result.data.entries.filter((e) => e.actor.via === "cli");
      expect(byCli.map((e) => `${e.actor.via} ${e.action} ${e.target.id}`)).toEqual([
        `cli keys.create ${json.id}`,
        "cli groups.addMember auroragpt",
        "cli users.create bob",
        "cli users.create alice",
      ]);
      // While serve holds the data dir, admin commands say what to do instead.
      const blocked = await run(["keys", "create", "--user", "alice", ...db]);
      expect(blocked.code).toBe(1);
      expect(blocked.stderr).toMatch(
        /in use by 'switchyard serve'.*sy keys create\|list\|revoke --server http:\/\/127\.0\.0\.1:\d+/,
      );
    } finally {
      server.child.kill("SIGTERM");
      await server.exited;
    }

    // Without --expires-days a key lasts auth.apiKeyDefaultExpiryDays (90); 0 asks for one that never expires.
    const byDefault = JSON.parse((await run(["keys", "create", "--user", "alice", "--json", ...db])).stdout) as {
      expires_at: string | null;
    };
    const days = (Date.parse(String(byDefault.expires_at)) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(89.9);
    expect(days).toBeLessThan(90.1);
    const forever = await run(["keys", "create", "--user", "alice", "--expires-days", "0", "--json", ...db]);
    expect(JSON.parse(forever.stdout)).toMatchObject({ expires_at: null });

    const keys = await run(["keys", "list", "--user", "alice", ...db]);
    expect(keys.stdout).toMatch(new RegExp(`${json.id}\\s+alice\\s+pipeline\\s+sy_`));
    expect(keys.stdout).not.toContain(json.key);
    expect((await run(["keys", "revoke", json.id, ...db])).stdout).toContain(`revoked ${json.id} (alice)`);
    const again = serve(db);
    try {
      const res = await me(await again.url, json.key);
      expect(res.status).toBe(401);
    } finally {
      again.child.kill("SIGTERM");
      await again.exited;
    }
  });

  it("creates the first admin once, showing a generated password only on the terminal", async () => {
    const fresh = path.join(temp, "fresh");
    const first = serve(["--data-dir", fresh, "--config", SMALL_CONFIG]);
    const url = await first.url;
    first.child.kill("SIGTERM");
    await first.exited;
    const { stdout, stderr } = first.output();
    const password = /Created the first admin user 'admin' with password: (\S+)/.exec(stderr)?.[1];
    expect(password).toBeDefined();
    expect(stdout).toContain("created the first admin user");
    expect(stdout).not.toContain(String(password));

    const second = serve(["--data-dir", fresh, "--config", SMALL_CONFIG]);
    const url2 = await second.url;
    try {
      expect(second.output().stderr).not.toContain("Created the first admin");
      const res = await fetch(`${url2}/auth/token`, {
        method: "POST",
        body: new URLSearchParams({ grant_type: "password", username: "admin", password: String(password) }),
      });
      expect(res.status).toBe(200);
    } finally {
      second.child.kill("SIGTERM");
      await second.exited;
    }
    expect(url).toMatch(/^http:/);
  });
});

describe.runIf(drivers.includes("postgres"))("admin commands on PostgreSQL", { concurrent: true }, () => {
  it("work while a server runs on the same database", async () => {
    const pg = await createPostgresDatabase();
    const env = {
      DATABASE_URL: pg.url,
      SWITCHYARD_ADMIN_PASSWORD: "admin-password-pg",
      SWITCHYARD_CONFIG: SMALL_CONFIG,
    };
    const server = serve(["--data-dir", path.join(temp, "pg")], env);
    try {
      const url = await server.url;
      expect((await run(["users", "create", "carol", "--password", "carol-secret-1"], env)).code).toBe(0);
      const key = JSON.parse((await run(["keys", "create", "--user", "carol", "--json"], env)).stdout) as {
        key: string;
      };
      expect(await me(url, key.key)).toMatchObject({ status: 200, body: { username: "carol" } });
    } finally {
      server.child.kill("SIGTERM");
      await server.exited;
      await pg.drop();
    }
  });
});
