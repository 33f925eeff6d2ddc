import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SdkServer, startSdkServer } from "./harness";

const run = promisify(execFile);
const PACKAGE_DIR = path.resolve(import.meta.dirname, "..");
const ROOT = path.resolve(PACKAGE_DIR, "../..");
const TSC = path.join(ROOT, "node_modules/.bin/tsc");

/**
 * The SDK as a researcher gets it, with no monorepo: the tarball `pnpm --filter @switchyard/sdk
 * pack` makes, installed by npm from the registry into an empty directory with its own HOME and
 * global prefix, then `sy` run and the library imported (and typechecked) from a tiny project.
 */
describe("the packed SDK, installed alone", () => {
  const temp = mkdtempSync(path.join(tmpdir(), "sy-pack-"));
  const home = path.join(temp, "home");
  const prefix = path.join(temp, "prefix");
  let tarball: string;
  let h: SdkServer;
  /**
   * A user's environment: none of pnpm's or the test runner's variables, but the machine's way to
   * the registry (certificate authorities, proxies) and npm's cache (speed) kept.
   */
  const env = {
    ...Object.fromEntries(
      Object.entries(process.env).filter(([name]) =>
        /^(NODE_EXTRA_CA_CERTS|SSL_CERT_FILE|SSL_CERT_DIR|NIX_SSL_CERT_FILE|https?_proxy|no_proxy)$/i.test(name),
      ),
    ),
    PATH: process.env.PATH,
    HOME: home,
    npm_config_cache: path.join(process.env.HOME ?? temp, ".npm"),
    npm_config_update_notifier: "false",
    npm_config_audit: "false",
    npm_config_fund: "false",
  };

  beforeAll(async () => {
    mkdirSync(home);
    const packed = path.join(temp, "packed");
    // What the command does; its prepack builds first (a turbo cache hit after `pnpm build`).
    await run("pnpm", ["--filter", "@switchyard/sdk", "pack", "--pack-destination", packed], { cwd: ROOT });
    const [name] = readdirSync(packed).filter((file) => /^switchyard-sdk-.*\.tgz$/.test(file));
    if (!name) throw new Error("pnpm pack made no switchyard-sdk-*.tgz");
    tarball = path.join(packed, name);
    h = await startSdkServer({ models: "minimal" });
  }, 600_000);

  afterAll(async () => {
    await h?.close();
    rmSync(temp, { recursive: true, force: true });
  });

  it("carries a package.json for users: no devDependencies, no workspace: or catalog: versions", async () => {
    const { stdout } = await run("tar", ["-xzOf", tarball, "package/package.json"]);
    const manifest = JSON.parse(stdout) as Record<string, unknown>;
    expect(manifest.name).toBe("@switchyard/sdk");
    expect(manifest).not.toHaveProperty("devDependencies");
    expect(Object.keys(manifest.dependencies as object)).toContain("zod");
    expect(stdout).not.toMatch(/"(workspace|catalog):/);
  });

  it("installs globally with npm and `sy` runs: --version, --help, and models against a server", async () => {
    const cwd = path.join(temp, "empty");
    mkdirSync(cwd);
    await run("npm", ["install", "-g", "--prefix", prefix, tarball], { cwd, env, timeout: 240_000 });
    const sy = path.join(prefix, "bin", "sy");
    expect((await run(sy, ["--version"], { cwd, env })).stdout).toBe("0.1.0\n");
    expect((await run(sy, ["--help"], { cwd, env })).stdout).toMatch(/models .*every model you may use/);
    const models = await run(sy, ["models", "--json"], {
      cwd,
      env: { ...env, SWITCHYARD_URL: h.url, SWITCHYARD_API_KEY: h.adaKey },
    });
    expect((JSON.parse(models.stdout) as { data: { id: string }[] }).data.map((m) => m.id)).toContain("org/chat");
  }, 300_000);

  it("is a library a TypeScript project installs, typechecks and calls", async () => {
    const project = path.join(temp, "project");
    mkdirSync(project);
    writeFileSync(
      path.join(project, "package.json"),
      JSON.stringify({ name: "uses-switchyard", private: true, type: "module" }),
    );
    // openai: the SDK's optional peer (its `client.openai()`), which its declarations name.
    await run("npm", ["install", tarball, "@types/node@20", "openai@7"], { cwd: project, env, timeout: 240_000 });
    writeFileSync(
      path.join(project, "index.ts"),
      `import { type ModelObject, Switchyard, SwitchyardSDKError } from "@switchyard/sdk";
const client = new Switchyard({ baseURL: process.argv[2], apiKey: process.argv[3], env: {} });
const models: ModelObject[] = await client.models.list();
console.log(JSON.stringify({ ids: models.map((m) => m.id), sdkError: typeof SwitchyardSDKError }));
`,
    );
    writeFileSync(
      path.join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "nodenext",
          target: "es2022",
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: ["node"],
        },
        files: ["index.ts"],
      }),
    );
    // The declarations are in the tarball and stand alone: no @switchyard/core, no source.
    const check = await run(TSC, ["-p", "tsconfig.json"], { cwd: project, env }).catch(
      (error: { stdout: string }) => error,
    );
    expect(check.stdout).toBe("");

    // The same program as JavaScript (what tsc would emit, minus the types), run by plain Node.
    writeFileSync(
      path.join(project, "run.mjs"),
      `import { Switchyard, SwitchyardSDKError } from "@switchyard/sdk";
const client = new Switchyard({ baseURL: process.argv[2], apiKey: process.argv[3], env: {} });
const models = await client.models.list();
console.log(JSON.stringify({ ids: models.map((m) => m.id), sdkError: typeof SwitchyardSDKError }));
`,
    );
    const { stdout } = await run(process.execPath, ["run.mjs", h.url, h.adaKey], { cwd: project, env });
    expect(JSON.parse(stdout)).toEqual({ ids: expect.arrayContaining(["org/chat"]), sdkError: "function" });
  }, 300_000);
});
