import { readFile, stat } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { SwitchyardError } from "@switchyard/core";
import type { RouteTable } from "@switchyard/http";
import type { Router } from "express";

/** The Python token helper in this checkout (clients/python), served as it is. */
const PYTHON_TOKEN_HELPER = fileURLToPath(new URL("../../../clients/python/switchyard_auth.py", import.meta.url));

/** The SDK's npm tarball (`sy` and the TypeScript client), written by the SDK's build (`pnpm build`). */
export const SDK_TARBALL = fileURLToPath(new URL("../../../packages/sdk/pack/switchyard-sdk.tgz", import.meta.url));

/**
 * Files users fetch from the server itself, with one `curl -O` or `npm i -g <url>`: the Python
 * token helper that scripts written for the reference service import in place of its
 * `inference_auth_token.py`, and the SDK with `sy`.
 */
export function registerClientRoutes(router: Router, routes: RouteTable): void {
  let helper: Promise<Buffer> | undefined;
  routes.add(
    router,
    {
      method: "GET",
      path: "/clients/switchyard_auth.py",
      access: "public",
      summary: "The Python token helper for scripts (device login, get_access_token)",
    },
    async (_req, res) => {
      helper ??= readFile(PYTHON_TOKEN_HELPER).catch((error: unknown) => {
        helper = undefined; // a checkout without clients/ answers 500 until the file is back
        throw error;
      });
      res
        .type("text/x-python; charset=utf-8")
        .set("cache-control", "no-cache")
        .send(await helper);
    },
  );
  routes.add(
    router,
    {
      method: "GET",
      path: "/clients/sdk.tgz",
      access: "public",
      summary: "The TypeScript SDK and the sy command as an npm tarball (npm i -g <server>/clients/sdk.tgz)",
    },
    async (_req, res) => {
      // Read on each request (it is small): a rebuild of the SDK is served without a restart.
      const found = await stat(SDK_TARBALL).catch(() => undefined);
      if (!found?.isFile()) {
        throw new SwitchyardError("service_unavailable", {
          reason: "this server's checkout has no SDK tarball yet (run 'pnpm build' there)",
        });
      }
      res
        .type("application/gzip")
        .set({
          "cache-control": "no-cache",
          "content-disposition": 'attachment; filename="switchyard-sdk.tgz"',
          "x-content-type-options": "nosniff",
          "last-modified": found.mtime.toUTCString(),
        })
        .send(await readFile(SDK_TARBALL));
    },
  );
}
