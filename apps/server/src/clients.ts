import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { RouteTable } from "@switchyard/http";
import type { Router } from "express";

/** The Python token helper in this checkout (clients/python), served as it is. */
const PYTHON_TOKEN_HELPER = fileURLToPath(new URL("../../../clients/python/switchyard_auth.py", import.meta.url));

/**
 * Files users fetch from the server itself, with one `curl -O`: the Python token helper that
 * scripts written for the reference service import in place of its `inference_auth_token.py`.
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
}
