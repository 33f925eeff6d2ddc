import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SDK_TARBALL } from "../src/clients";
import { ADMIN_PASSWORD, passwordToken } from "./helpers";

/**
 * What ships: `switchyard` run from the built dist/ (no TypeScript loader), as `pnpm switchyard`
 * and a deployment run it. `pnpm test` builds first; run alone, this file builds what it needs
 * (a turbo cache hit when nothing changed).
 */
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const BUILT_BIN = fileURLToPath(new URL("../bin/switchyard.mjs", import.meta.url));
const CONFIG = `
clusters:
  - name: lab
    nodes: [{ name: n1, gpus: 4, role: hot }]
    frameworks: [vllm]
models:
  - { id: org/chat, cluster: lab, framework: vllm, capabilities: [chat], placement: hot, node: n1, engine: { type: simulator, loadTime: 100ms, profile: fast } }
`;

/** The files of a .tar (ustar) archive by name. */
export function untar(tar: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (let at = 0; at + 512 <= tar.length; ) {
    const header = tar.subarray(at, at + 512);
    if (header.every((b) => b === 0)) break;
    const text = (from: number, to: number) => header.toString("utf8", from, to).replace(/\0.*$/s, "");
    const size = Number.parseInt(text(124, 136).trim() || "0", 8);
    const prefix = text(345, 500);
    const name = prefix ? `${prefix}/${text(0, 100)}` : text(0, 100);
    if (header[156] === 48 || header[156] === 0) files.set(name, tar.subarray(at + 512, at + 512 + size));
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

describe("the built switchyard (dist/)", () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "sy-built-"));
  let serve: ChildProcess;
  let url: string;
  let stderr = "";

  beforeAll(async () => {
    execFileSync(
      path.join(ROOT, "node_modules/.bin/turbo"),
      ["run", "build", "--filter=@switchyard/server", "--filter=@switchyard/sdk", "--output-logs=errors-only"],
      { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, TURBO_TELEMETRY_DISABLED: "1" } },
    );
    const configFile = path.join(dataDir, "switchyard.yaml");
    writeFileSync(configFile, CONFIG);
    serve = spawn(
      process.execPath,
      [BUILT_BIN, "serve", "--port", "0", "--data-dir", dataDir, "--config", configFile],
      {
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          SWITCHYARD_LOG_FORMAT: "json",
          SWITCHYARD_ADMIN_PASSWORD: ADMIN_PASSWORD,
        },
      },
    );
    url = await new Promise<string>((resolve, reject) => {
      serve.stderr?.on("data", (d) => {
        stderr += d;
        const match = /Switchyard is up: (http:\/\/\S+)/.exec(stderr);
        if (match?.[1]) resolve(match[1]);
      });
      serve.once("close", (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
    });
  }, 300_000);

  afterAll(async () => {
    if (serve && serve.exitCode === null) {
      const closed = new Promise((resolve) => serve.once("close", resolve));
      serve.kill("SIGTERM");
      await closed;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("serves /health and a chat completion through the openai client, its model server run from dist/ too", async () => {
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: "ok", database: { driver: "pglite", status: "up" } });

    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: await passwordToken(url), maxRetries: 0 });
    let completion: OpenAI.ChatCompletion | undefined;
    for (const deadline = Date.now() + 60_000; !completion && Date.now() < deadline; ) {
      completion = await client.chat.completions
        .create({ model: "org/chat", messages: [{ role: "user", content: "Hello" }], max_tokens: 8 })
        .catch(async (error: unknown) => {
          // Still starting (503 model_not_ready): wait as a client would.
          if (!(error instanceof OpenAI.APIError) || error.status !== 503) throw error;
          await new Promise((r) => setTimeout(r, 250));
          return undefined;
        });
    }
    expect(completion?.choices[0]?.message.content).toBeTruthy();
    expect(completion?.model).toBe("org/chat");

    // The simulator the scheduler launched runs the built bin, not the source one through tsx.
    const children = execFileSync("ps", ["-o", "args=", "--ppid", String(serve.pid)], { encoding: "utf8" })
      .split("\n")
      .filter((line) => line.includes("simulator"));
    expect(children).toHaveLength(1);
    expect(children[0]).toContain(path.join("apps", "server", "bin", "switchyard.mjs"));
    expect(children[0]).not.toMatch(/source|tsx/);
  });

  it("offers the SDK tarball at /clients/sdk.tgz without credentials: npm-installable, no workspace dependencies", async () => {
    const res = await fetch(`${url}/clients/sdk.tgz`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/gzip");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.equals(readFileSync(SDK_TARBALL))).toBe(true);

    const files = untar(gunzipSync(body));
    const manifestText = files.get("package/package.json")?.toString("utf8") ?? "";
    expect(manifestText).not.toContain("workspace:");
    expect(manifestText).not.toContain("catalog:");
    const manifest = JSON.parse(manifestText) as {
      name: string;
      bin: Record<string, string>;
      private?: boolean;
      dependencies: Record<string, string>;
    };
    expect(manifest).toMatchObject({ name: "@switchyard/sdk", bin: { sy: "./bin/sy.mjs" } });
    expect(manifest.private).toBeUndefined();
    expect(Object.keys(manifest.dependencies).filter((name) => name.startsWith("@switchyard/"))).toEqual([]);
    for (const file of ["package/bin/sy.mjs", "package/dist/cli/bin.js", "package/dist/node/index.d.ts"]) {
      expect(files.has(file), file).toBe(true);
    }
    expect([...files.keys()].filter((name) => name.startsWith("package/src/"))).toEqual([]);
  });
});
