import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { createApiKey, createUser } from "@switchyard/auth";
import type { Clock } from "@switchyard/core";
import { createLogger, type RunningServer, startServer } from "@switchyard/server";

export const ADMIN_PASSWORD = "admin-password-for-sdk-tests";
export const USERS = {
  ada: "ada-password-1",
  grace: "grace-password-1",
} as const;

/**
 * A small catalog of simulators for the SDK's tests: a chat model paced like a GPU server, a slow
 * one with long answers (to interrupt), an embedding model, two cold ones that load in 2 and 3 s, one that
 * never gets live within a test, a group-restricted one, and one limited to 1 request a minute.
 */
export function sdkConfig(models: "all" | "minimal" | "batch", shared = "/nonexistent"): string {
  if (models === "batch") return batchConfig(shared);
  const all = `
  - { id: org/chat, cluster: lab, framework: vllm, capabilities: [chat, completions, tools, batch], placement: hot, node: hot-1, aliases: [chatty], contextLength: 8192, engine: { type: simulator, loadTime: 100ms, timeToFirstToken: 20ms, tokensPerSecond: 40, args: [--answer-tokens, 30-40] } }
  - { id: org/slow, cluster: lab, framework: vllm, capabilities: [chat], placement: hot, node: hot-1, engine: { type: simulator, loadTime: 100ms, timeToFirstToken: 20ms, tokensPerSecond: 20, args: [--answer-tokens, 400-500] } }
  - { id: org/embed, cluster: lab, framework: infinity, capabilities: [embedding], placement: hot, node: hot-1, engine: { type: simulator, loadTime: 100ms, embeddingDimensions: 16, profile: fast } }
  - { id: org/cold, cluster: lab, framework: vllm, capabilities: [chat], placement: dynamic, gpus: 1, engine: { type: simulator, loadTime: 2s, profile: fast } }
  - { id: org/sleepy, cluster: lab, framework: vllm, capabilities: [chat], placement: dynamic, gpus: 1, engine: { type: simulator, loadTime: 3s, profile: fast } }
  - { id: org/glacial, cluster: lab, framework: vllm, capabilities: [chat], placement: dynamic, gpus: 1, engine: { type: simulator, loadTime: 120s, profile: fast } }
  - { id: org/secret, cluster: lab, framework: vllm, capabilities: [chat], placement: hot, node: hot-1, allowedGroups: [vip], engine: { type: simulator, loadTime: 100ms, profile: fast } }
  - { id: org/limited, cluster: lab, framework: vllm, capabilities: [chat], placement: hot, node: hot-1, engine: { type: simulator, loadTime: 100ms, profile: fast } }`;
  const minimal = `
  - { id: org/chat, cluster: lab, framework: vllm, capabilities: [chat], placement: hot, node: hot-1, engine: { type: simulator, loadTime: 100ms, profile: fast } }`;
  return `
auth:
  devicePollInterval: 1s
  # A credential stays cached for the whole file: a revocation must clear it, not wait it out.
  principalCacheTtl: 1h
gateway:
  holdSeconds: 1
  limits:
    models:
      org/limited: { requestsPerMinute: 1 }
clusters:
  - name: lab
    nodes: [{ name: hot-1, gpus: 8, role: hot }, { name: rot-1, gpus: 8, role: rotating }]
    frameworks: [vllm, infinity]
  - name: annex
    nodes: [{ name: a-1, gpus: 4, role: rotating }]
    frameworks: [vllm]
models:${models === "all" ? all : minimal}
`;
}

/**
 * Batch models: a fast one, a paced one (a few hundred lines take seconds, so progress can be
 * seen), a slow one with little concurrency (to cancel mid-run) and one without the batch
 * capability. The cluster lets the reference API read and write `shared`.
 */
function batchConfig(shared: string): string {
  return `
batch:
  checkpointInterval: 100ms
clusters:
  - name: lab
    nodes: [{ name: hot-1, gpus: 8, role: hot }, { name: rot-1, gpus: 8, role: rotating }]
    frameworks: [vllm]
    batch: { allowedDirs: ["${shared}"] }
models:
  - { id: org/batchy, cluster: lab, framework: vllm, capabilities: [chat, batch], placement: hot, node: hot-1, aliases: [batchy], engine: { type: simulator, loadTime: 100ms, profile: fast } }
  - { id: org/paced, cluster: lab, framework: vllm, capabilities: [chat, batch], placement: hot, node: hot-1, engine: { type: simulator, loadTime: 100ms, timeToFirstToken: 10ms, tokensPerSecond: 200, maxConcurrency: 8 } }
  - { id: org/slow, cluster: lab, framework: vllm, capabilities: [chat, batch], placement: hot, node: hot-1, engine: { type: simulator, loadTime: 100ms, timeToFirstToken: 20ms, tokensPerSecond: 40, maxConcurrency: 2 } }
  - { id: org/chatonly, cluster: lab, framework: vllm, capabilities: [chat], placement: hot, node: hot-1, engine: { type: simulator, loadTime: 100ms, profile: fast } }
`;
}

/** One request line of a batch input file (chat completions); `model: null` leaves `body.model` out. */
export function batchLine(i: number, model: string | null = "org/batchy", extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    custom_id: `req-${i}`,
    method: "POST",
    url: "/v1/chat/completions",
    body: {
      ...(model === null ? {} : { model }),
      messages: [{ role: "user", content: `question ${i}` }],
      max_tokens: 8,
      ...extra,
    },
  });
}

/** A JSONL file of these lines in a new temporary directory (or `dir`); returns its path. */
export function writeBatchFile(lines: string[], name = "input.jsonl", dir?: string): string {
  const where = dir ?? mkdtempSync(path.join(tmpdir(), "sy-batch-"));
  if (!dir) tempDirs.push(where);
  const file = path.join(where, name);
  writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

export interface SdkServer {
  url: string;
  /** The directory the reference batch API may read and write (batch catalog only). */
  shared: string;
  server: RunningServer;
  /** An API key of ada (inference and batch scopes). */
  adaKey: string;
  logs: string[];
  close(): Promise<void>;
}

/** The real server on an ephemeral port, an in-memory database, users ada and grace (group physics). */
export async function startSdkServer(
  options: { models?: "all" | "minimal" | "batch"; clock?: Clock } = {},
): Promise<SdkServer> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "sy-sdk-server-"));
  tempDirs.push(dataDir);
  const shared = path.join(dataDir, "shared");
  mkdirSync(shared);
  const configFile = path.join(dataDir, "switchyard.yaml");
  const models = options.models ?? "all";
  writeFileSync(configFile, sdkConfig(models, shared));
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      logs.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  });
  const server = await startServer({
    port: 0,
    host: "127.0.0.1",
    dataDir,
    configFile,
    inMemoryDatabase: true,
    logger: createLogger({ level: "warn", pretty: false, destination }),
    env: { SWITCHYARD_ADMIN_PASSWORD: ADMIN_PASSWORD },
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const prisma = server.ctx.db.prisma;
  const ada = await createUser(prisma, { username: "ada", password: USERS.ada });
  await createUser(prisma, { username: "grace", password: USERS.grace, groups: ["physics"] });
  const { key } = await createApiKey(prisma, { userId: ada.id, name: "fixture" });
  const hot = {
    all: ["org/chat", "org/slow", "org/embed", "org/secret", "org/limited"],
    minimal: ["org/chat"],
    batch: ["org/batchy", "org/paced", "org/slow", "org/chatonly"],
  }[models];
  const deadline = Date.now() + 60_000;
  while (!hot.every((m) => server.ctx.scheduler.availability("lab", m).status === "live")) {
    if (Date.now() > deadline) throw new Error("the hot models did not get live in time");
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url: server.url, shared, server, adaKey: key, logs, close: () => server.close() };
}

/** Tokens from the password grant, as a script or test would get them. */
export async function passwordGrant(url: string, username: keyof typeof USERS | "admin") {
  const password = username === "admin" ? ADMIN_PASSWORD : USERS[username];
  const res = await fetch(`${url}/auth/token`, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "password", username, password }),
  });
  const body = (await res.json()) as { access_token: string; refresh_token: string; expires_in: number };
  if (!body.access_token) throw new Error(`password grant failed: ${JSON.stringify(body)}`);
  return body;
}

/** GET /v1/me with a bearer credential: the status and, when 200, the username. */
export async function whoIs(url: string, credential: string): Promise<{ status: number; username?: string }> {
  const res = await fetch(`${url}/v1/me`, { headers: { authorization: `Bearer ${credential}` } });
  const body = (await res.json()) as { username?: string };
  return { status: res.status, ...(body.username ? { username: body.username } : {}) };
}

const tempDirs: string[] = [];

/** Remove the temporary homes and data dirs this test file made (call in afterAll). */
export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A fresh home for `sy`: HOME and XDG_CONFIG_HOME in a new temporary directory. */
export function freshHome(): { home: string; config: string; tokenFile: string } {
  const home = mkdtempSync(path.join(tmpdir(), "sy-home-"));
  tempDirs.push(home);
  const config = path.join(home, "xdg");
  return { home, config, tokenFile: path.join(config, "switchyard", "tokens.json") };
}

export const BIN = fileURLToPath(new URL("../bin/sy-source.mjs", import.meta.url));

export interface SyResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The environment a user's shell would give `sy`: nothing of the test runner's own SWITCHYARD_* variables. */
export function syEnv(home: { home: string; config: string }, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: home.home, XDG_CONFIG_HOME: home.config, ...extra };
}

/** A running `sy` process whose output can be awaited as it arrives. */
export class SyProcess {
  readonly child: ChildProcessWithoutNullStreams;
  stdout = "";
  stderr = "";
  /** When each stdout chunk arrived (ms since start). */
  readonly stdoutTimes: number[] = [];
  readonly started = Date.now();
  readonly done: Promise<SyResult>;

  constructor(args: string[], env: NodeJS.ProcessEnv, input?: string) {
    this.child = spawn(process.execPath, [BIN, ...args], { env, stdio: "pipe" });
    this.child.stdout.on("data", (chunk) => {
      this.stdout += String(chunk);
      this.stdoutTimes.push(Date.now() - this.started);
    });
    this.child.stderr.on("data", (chunk) => {
      this.stderr += String(chunk);
    });
    if (input !== undefined) this.child.stdin.end(input);
    else this.child.stdin.end();
    const killer = setTimeout(() => this.child.kill("SIGKILL"), 60_000);
    this.done = new Promise((resolve) => {
      this.child.on("close", (code, signal) => {
        clearTimeout(killer);
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr });
      });
    });
  }

  /** Resolves with the match once stdout or stderr shows `pattern` (fails after 30 s or when the process exits first). */
  async waitFor(stream: "stdout" | "stderr", pattern: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.done.then(() => {
      exited = true;
    });
    for (;;) {
      const match = pattern.exec(this[stream]);
      if (match) return match;
      if (exited || Date.now() > deadline) {
        throw new Error(`sy never printed ${pattern} on ${stream}; stdout: ${this.stdout} stderr: ${this.stderr}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

function shellQuote(word: string): string {
  return `'${word.replace(/'/g, "'\\''")}'`;
}

/**
 * Run `sy` to the end on a pseudo-terminal (script(1), from util-linux): stdout and stderr are
 * a terminal, as a person's; `output` is both, with the terminal's escapes removed and CRLF as LF.
 */
export function syInTerminal(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  const command = [process.execPath, BIN, ...args].map(shellQuote).join(" ");
  return new Promise((resolve) => {
    const child = spawn("script", ["-qfec", command, "/dev/null"], { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += String(chunk);
    });
    child.stderr.on("data", (chunk) => {
      output += String(chunk);
    });
    child.on("close", (code) =>
      // biome-ignore lint/suspicious/noControlCharactersInRegex: removing the terminal's escapes is the point
      resolve({ code, output: output.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, "").replace(/\r\n/g, "\n") }),
    );
  });
}

/** Terminal output as a person reads it: escapes removed, CRLF as LF. */
function plainTerminalText(output: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing the terminal's escapes is the point
  return output.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, "").replace(/\r+\n/g, "\n");
}

/**
 * `sy` on a pseudo-terminal (script(1)) that a test types into: keys go to the terminal as a
 * person's would (`"\u0003"` is Ctrl-C, `"\u0004"` Ctrl-D), `output` is what it shows.
 */
export class SyTerminal {
  readonly child: ChildProcessWithoutNullStreams;
  private raw = "";
  readonly done: Promise<{ code: number | null; output: string }>;

  constructor(args: string[], env: NodeJS.ProcessEnv) {
    const command = [process.execPath, BIN, ...args].map(shellQuote).join(" ");
    this.child = spawn("script", ["-qfec", command, "/dev/null"], { env, stdio: "pipe" });
    this.child.stdout.on("data", (chunk) => {
      this.raw += String(chunk);
    });
    this.child.stderr.on("data", (chunk) => {
      this.raw += String(chunk);
    });
    const killer = setTimeout(() => this.child.kill("SIGKILL"), 60_000);
    this.done = new Promise((resolve) => {
      this.child.on("close", (code) => {
        clearTimeout(killer);
        resolve({ code, output: this.output });
      });
    });
  }

  get output(): string {
    return plainTerminalText(this.raw);
  }

  type(keys: string): void {
    this.child.stdin.write(keys);
  }

  /** Resolves once the output after `from` (a length of `output`) matches `pattern`; fails after 30 s or on exit. */
  async waitFor(pattern: RegExp, from = 0, timeoutMs = 30_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.done.then(() => {
      exited = true;
    });
    for (;;) {
      const match = pattern.exec(this.output.slice(from));
      if (match) return match;
      if (exited || Date.now() > deadline)
        throw new Error(`the terminal never showed ${pattern}; it shows:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Run `sy` to the end. */
export function sy(args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<SyResult> {
  return new SyProcess(args, env, input).done;
}

/** Approve a device code the way a browser does: open the page `sy login` printed, then submit its form. */
export async function approveInBrowser(
  pageUrl: string,
  username: keyof typeof USERS | "admin",
  action: "approve" | "deny" = "approve",
): Promise<string> {
  const page = await (await fetch(pageUrl)).text();
  const code = /name="user_code" value="([^"]*)"/.exec(page)?.[1];
  const form = /<form method="post" action="([^"]+)"/.exec(page)?.[1];
  if (!code || !form) throw new Error(`the approval page has no form with the code: ${page.slice(0, 300)}`);
  const password = username === "admin" ? ADMIN_PASSWORD : USERS[username];
  const res = await fetch(new URL(form, pageUrl), {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ user_code: code, username, password, action }),
  });
  return res.text();
}

/** A loopback port nothing listens on (taken from the OS, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** What a terminal of `columns` shows of `sy`: the raw bytes, and the text with colour and cursor escapes removed. */
export interface SizedTerminalResult {
  code: number | null;
  /** The bytes as written (escapes kept), CRLF as LF. */
  raw: string;
  /** Escapes removed, CRLF as LF; a redraw (`\r`) keeps only what the line shows last. */
  output: string;
  /** Every line the terminal drew, including each redraw of a progress bar or spinner (split at `\r` too). */
  drawn: string[];
}

/**
 * Run `sy` on a pseudo-terminal of `columns` x 50 (script(1), then `stty cols`), as a person in a
 * terminal of that size would: the width comes from the terminal itself, not from `COLUMNS` (which
 * shells keep to themselves). `input` is typed into the terminal (lines, then Ctrl-D).
 */
export function syAtWidth(
  args: string[],
  env: NodeJS.ProcessEnv,
  columns: number,
  input?: string[],
  prompt = /(^|[\r\n])> /,
): Promise<SizedTerminalResult> {
  const command = `stty cols ${columns} rows 50; exec ${[process.execPath, BIN, ...args].map(shellQuote).join(" ")}`;
  const { COLUMNS: _ignored, ...rest } = env;
  return new Promise((resolve) => {
    const child = spawn("script", ["-qfec", command, "/dev/null"], {
      env: { TERM: "xterm", ...rest },
      stdio: [input ? "pipe" : "ignore", "pipe", "pipe"],
    });
    let raw = "";
    child.stdout?.on("data", (chunk) => {
      raw += String(chunk);
    });
    child.stderr?.on("data", (chunk) => {
      raw += String(chunk);
    });
    const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("close", (code) => {
      clearTimeout(killer);
      raw = raw.replace(/\r\n/g, "\n");
      // A move to the line's start or up, or an erase of the line, starts a redraw (as `\r` does).
      const plain = raw
        // biome-ignore lint/suspicious/noControlCharactersInRegex: reading the terminal's escapes is the point
        .replace(/\u001b\[\d*[AFGK]/g, "\r")
        // biome-ignore lint/suspicious/noControlCharactersInRegex: removing the terminal's escapes is the point
        .replace(/\u001b(\[[0-9;?]*[A-Za-z]|[78])/g, "");
      const drawn = plain.split(/[\r\n]/);
      const output = plain
        .split("\n")
        .map((line) => line.split("\r").filter(Boolean).at(-1) ?? "")
        .join("\n");
      resolve({ code, raw, output, drawn });
    });
    if (input && child.stdin) {
      // One line at a time, as a person types: each once `sy` shows a new prompt.
      // biome-ignore lint/suspicious/noControlCharactersInRegex: removing the terminal's escapes is the point
      const shown = () => raw.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, "");
      void (async () => {
        const deadline = Date.now() + 30_000;
        let from = 0;
        for (const line of input) {
          while (!prompt.test(shown().slice(from)) && Date.now() < deadline && child.exitCode === null)
            await new Promise((r) => setTimeout(r, 50));
          from = shown().length;
          child.stdin?.write(line);
        }
      })();
    }
  });
}

/** The lines of `drawn` wider than `columns` (none, for a command that respects the terminal). */
export function overWidth(drawn: string[], columns: number): string[] {
  return drawn.filter((line) => [...line].length > columns);
}
