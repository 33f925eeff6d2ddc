import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadMigrations } from "@switchyard/db";
import { afterAll, describe, expect, it } from "vitest";
import { ADMIN_PASSWORD, passwordToken } from "./helpers";

const BIN = fileURLToPath(new URL("../bin/switchyard-source.mjs", import.meta.url));
const temp = mkdtempSync(path.join(tmpdir(), "sy-cli-"));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function start(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, SWITCHYARD_LOG_FORMAT: "json", ...env },
  });
}

function run(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve) => {
    const child = start(args, env);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d) => (stdout += d));
    child.stderr?.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Start `serve` and wait for it to print its URL. */
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

function writeFile(name: string, text: string): string {
  const file = path.join(temp, name);
  writeFileSync(file, text);
  return file;
}

const GOOD_CONFIG = `
clusters:
  - name: lab
    nodes: [{ name: n1, gpus: 4, role: hot }, { name: n2, gpus: 4, role: rotating }]
    frameworks: [vllm]
models:
  - { id: org/chat, cluster: lab, framework: vllm, capabilities: [chat, batch], placement: hot, node: n1, gpus: 2 }
  - { id: org/other, cluster: lab, framework: vllm, capabilities: [chat], placement: dynamic }
`;

const BAD_CONFIG = `
clusters:
  - name: lab
    nodes: [{ name: n1, gpus: 4, role: hot }]
    frameworks: [vllm]
    colour: blue
models:
  - { cluster: lab, framework: vllm, capabilities: [chat], placement: hot }
  - { id: org/x, cluster: nowhere, framework: vllm, capabilities: [chat], placement: dynamic }
`;

describe("the switchyard command", () => {
  it("prints its version and help", async () => {
    const version = await run(["--version"]);
    expect(version).toMatchObject({ code: 0, stdout: "0.1.0\n" });
    const help = await run(["--help"]);
    expect(help.code).toBe(0);
    for (const command of ["serve", "migrate", "config"]) expect(help.stdout).toContain(command);
    const serveHelp = await run(["serve", "--help"]);
    expect(serveHelp.stdout).toMatch(/--port <n>[\s\S]*--host <host>[\s\S]*--data-dir <dir>[\s\S]*--config <file>/);
    // What each role is and needs.
    expect(serveHelp.stdout).toMatch(/--roles <list>/);
    for (const role of ["gateway", "scheduler", "batch"])
      expect(serveHelp.stdout).toMatch(new RegExp(`^  ${role} `, "m"));
    expect(serveHelp.stdout).toMatch(/Any set but all three needs PostgreSQL \(DATABASE_URL\)/);
    const workerHelp = await run(["batch-worker", "--help"]);
    expect(workerHelp.stdout).toMatch(/serve --roles batch/);
    expect(workerHelp.stdout).toMatch(/Needs: DATABASE_URL/);
  });

  it.each([["gateway"], ["scheduler,batch"]])(
    "refuses --roles %s on the embedded database, saying what it needs",
    async (roles) => {
      const result = await run(["serve", "--roles", roles, "--port", "0", "--data-dir", path.join(temp, "d-roles")]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(new RegExp(`serve --roles ${roles} needs PostgreSQL \\(set DATABASE_URL\\)`));
      expect(existsSync(path.join(temp, "d-roles", "pgdata"))).toBe(false);
    },
  );

  it.each([
    [["serve", "--bogus"], /unknown option '--bogus'/],
    [["serve", "--port", "99999"], /must be an integer from 0 to 65535/],
    [["frobnicate"], /unknown command 'frobnicate'/],
    [["gateway", "--help"], /unknown command 'gateway'/],
    [["config", "check"], /missing required argument 'file'/],
    [["serve", "--roles", "gateway,bogus"], /unknown role 'bogus'; the roles are gateway, scheduler, batch/],
    [["serve", "--roles", ""], /name at least one of gateway, scheduler, batch/],
  ])("exits 2 with usage for %j", async (args, message) => {
    const result = await run(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(/Usage: switchyard/);
  });

  it("checks a config file: ok, or every bad path named with exit 1", async () => {
    const good = await run(["config", "check", writeFile("good.yaml", GOOD_CONFIG)]);
    expect(good.code).toBe(0);
    expect(good.stdout).toMatch(/ok \(1 clusters, 2 models: 1 hot, 1 dynamic\)/);

    const bad = await run(["config", "check", writeFile("bad.yaml", BAD_CONFIG)]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/invalid config \(2 problems\)/);
    expect(bad.stderr).toMatch(/bad\.yaml:6: clusters\[0\]\.colour: unknown key/);
    expect(bad.stderr).toMatch(/bad\.yaml:8: models\[0\]\.id: required/);
    expect(bad.stderr).not.toMatch(/\n\s+at /); // no stack trace

    const missing = await run(["config", "check", path.join(temp, "nope.yaml")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read the config file: no such file/);
  });

  it("prints the built-in catalog as a config that checks clean", async () => {
    const printed = await run(["config", "default"]);
    expect(printed.code).toBe(0);
    const check = await run(["config", "check", writeFile("default.yaml", printed.stdout)]);
    expect(check.stdout).toMatch(/ok \(4 clusters, 30 models/);
  });

  it("refuses to start on an invalid config, naming every bad path", async () => {
    const result = await run([
      "serve",
      "--port",
      "0",
      "--data-dir",
      path.join(temp, "d0"),
      "--config",
      path.join(temp, "bad.yaml"),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/clusters\[0\]\.colour: unknown key/);
    expect(result.stderr).not.toMatch(/listening/);
  });

  it("names the host of an unreachable DATABASE_URL in one line, no stack trace", async () => {
    const result = await run(["serve", "--port", "0"], { DATABASE_URL: "postgresql://sy:pw@127.0.0.1:1/switchyard" });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      "switchyard: cannot connect to PostgreSQL at 127.0.0.1:1/switchyard: connection refused (is PostgreSQL running there?)",
    );
  });

  it("says clearly when the data dir cannot be written", async () => {
    const file = writeFile("plain-file", "x");
    const result = await run(["migrate", "--data-dir", path.join(file, "data")]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toMatch(
      /^switchyard: the data dir .*plain-file\/data cannot be created or written \(ENOTDIR\); pick another with --data-dir$/,
    );
  });

  it("says when the port is taken", async () => {
    const first = serve(["--data-dir", path.join(temp, "d-port"), "--config", writeFile("port.yaml", GOOD_CONFIG)]);
    const url = await first.url;
    const port = new URL(url).port;
    const second = await run(["serve", "--port", port, "--data-dir", path.join(temp, "d-port2")]);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`127\\.0\\.0\\.1:${port} is already in use; pick another with --port`));
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);
  });

  it("serves, holds its data dir, and shuts down cleanly on SIGTERM", async () => {
    const dataDir = path.join(temp, "d1");
    const migrated = await run(["migrate", "--data-dir", dataDir]);
    expect(migrated.code).toBe(0);
    const all = (await loadMigrations()).map((m) => m.name);
    expect(migrated.stdout).toContain(`: applied ${all.join(", ")}; ${all.length} migrations in place`);

    const server = serve(["--data-dir", dataDir, "--config", path.join(temp, "good.yaml")], {
      SWITCHYARD_ADMIN_PASSWORD: ADMIN_PASSWORD,
    });
    const url = await server.url;
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    const token = await passwordToken(url);
    const models = (await (
      await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as {
      data: { id: string }[];
    };
    expect(models.data.map((m) => m.id)).toEqual(["org/chat", "org/other"]);

    const blocked = await run(["migrate", "--data-dir", dataDir]);
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toMatch(/is in use by 'switchyard serve' \(pid \d+, http:\/\/127\.0\.0\.1:\d+\)/);

    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
    expect(server.output().stdout).toMatch(/"msg":"switchyard stopped"/);
    expect(existsSync(path.join(dataDir, "switchyard.lock"))).toBe(false);

    const again = await run(["migrate", "--data-dir", dataDir]);
    expect(again).toMatchObject({ code: 0 });
    expect(again.stdout).toContain(`no pending migrations; ${all.length} migrations in place`);
  });
});
