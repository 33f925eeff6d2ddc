import { builtinModules } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { describe, expect, it } from "vitest";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

/** Bundle `code` (resolved from this package) as a browser or Node bundler would, collecting every import it saw. */
async function bundle(code: string, platform: "browser" | "node") {
  const result = await esbuild.build({
    stdin: { contents: code, resolveDir: packageDir, loader: "ts" },
    bundle: true,
    write: false,
    platform,
    format: "esm",
    metafile: true,
    absWorkingDir: packageDir,
    logLevel: "silent",
    // An optional peer the user's own bundler brings in; only our code is under test.
    external: ["openai"],
    // The workspace's sources (the published package has only dist/, built from them).
    conditions: ["switchyard-source", "module"],
  });
  const inputs = Object.keys(result.metafile.inputs);
  const imports = Object.values(result.metafile.inputs).flatMap((input) => input.imports.map((i) => i.path));
  return { inputs, imports };
}

describe("the SDK's runtime-neutral entry", () => {
  it("bundles for the browser without any Node module, through the package name as a browser resolves it", async () => {
    for (const entry of ["@switchyard/sdk", "@switchyard/sdk/core"]) {
      const { inputs, imports } = await bundle(`export * from "${entry}";`, "browser");
      expect(imports.filter((i) => builtins.has(i))).toEqual([]);
      // The client, its errors, the SSE parser and the cold-model wait are all in it; nothing of ./node is.
      expect(inputs).toEqual(
        expect.arrayContaining(["src/client.ts", "src/errors.ts", "src/sse.ts", "src/wait.ts", "src/index.ts"]),
      );
      expect(inputs.filter((i) => i.startsWith("src/node/") || i.startsWith("src/cli/"))).toEqual([]);
    }
  });

  it("the Node entry does need Node, so the check above would catch a Node import slipping into the core", async () => {
    // (The first module esbuild names may be a dependency's, e.g. proper-lockfile's graceful-fs: "fs".)
    await expect(bundle(`export * from "@switchyard/sdk/node";`, "browser")).rejects.toThrow(
      /Could not resolve "(node:)?fs"/,
    );
    const { imports } = await bundle(`export * from "@switchyard/sdk/node";`, "node");
    expect(imports).toEqual(expect.arrayContaining(["node:fs", "node:os"]));
  });

  it("outside a browser, @switchyard/sdk is the Node entry: every export Node users had is still there", async () => {
    const root = await import("@switchyard/sdk");
    const node = await import("../src/node");
    expect(Object.keys(root).sort()).toEqual(Object.keys(node).sort());
    for (const name of [
      "Switchyard",
      "TokenStore",
      "defaultTokenPath",
      "deviceLogin",
      "withBatchModel",
      "peekBatchFile",
    ]) {
      expect(root).toHaveProperty(name);
    }
    const { inputs } = await bundle(`export * from "@switchyard/sdk";`, "node");
    expect(inputs).toContain(path.join("src", "node", "index.ts"));
  });
});
