import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { apiError } from "@switchyard/core";
import { type RouteTable, sendError } from "@switchyard/http";
import type { Response, Router } from "express";
import type { Logger } from "./logger";

/** apps/admin in this checkout: the dashboard's sources and its build script. */
export const ADMIN_APP_DIR = fileURLToPath(new URL("../../admin/", import.meta.url));
export const DEFAULT_DASHBOARD_DIR = path.join(ADMIN_APP_DIR, "dist");
const BUILD_SCRIPT = path.join(ADMIN_APP_DIR, "scripts", "build.mjs");

export type DashboardState =
  | { state: "ready" }
  | { state: "building" }
  | { state: "missing"; reason: string }
  | { state: "failed"; reason: string };

/**
 * The admin dashboard's static files (apps/admin/dist). `serve` builds them when they are
 * missing or older than their sources (a fresh clone, a pull): in the background, so the API
 * answers at once and /admin says it is being built meanwhile.
 */
export class Dashboard {
  private current: DashboardState;
  private child: ChildProcess | undefined;

  constructor(
    readonly dir: string,
    private readonly logger: Logger,
  ) {
    this.current = existsSync(path.join(dir, "index.html"))
      ? { state: "ready" }
      : {
          state: "missing",
          reason: `no build in ${dir}; run 'pnpm --filter @switchyard/admin build' (switchyard serve builds it by itself)`,
        };
  }

  get status(): DashboardState {
    return this.current;
  }

  /** Build if the sources changed since the last build (resolves when done; never rejects). */
  async buildIfStale(): Promise<void> {
    if (this.dir !== DEFAULT_DASHBOARD_DIR) return; // a prebuilt dashboard elsewhere is used as it is
    if (!existsSync(BUILD_SCRIPT)) return;
    // A previous build keeps being served while a new one is made (the script swaps it in whole).
    if (this.current.state !== "ready") this.current = { state: "building" };
    const started = Date.now();
    const output: string[] = [];
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [BUILD_SCRIPT, "--if-stale"], {
        cwd: ADMIN_APP_DIR,
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, NODE_ENV: "production" },
      });
      this.child = child;
      child.stdout.on("data", (chunk) => output.push(String(chunk)));
      child.stderr.on("data", (chunk) => output.push(String(chunk)));
      child.once("error", (error) => {
        output.push(error.message);
        resolve(null);
      });
      child.once("exit", (exitCode) => resolve(exitCode));
    });
    this.child = undefined;
    const text = output.join("").trim();
    if (code === 0 && existsSync(path.join(this.dir, "index.html"))) {
      this.current = { state: "ready" };
      if (!text.includes("up to date")) {
        this.logger.info({ ms: Date.now() - started }, "built the admin dashboard");
      }
      return;
    }
    const reason = text.split("\n").slice(-5).join("\n") || `the build exited with ${code}`;
    this.logger.warn({ reason }, "could not build the admin dashboard; /admin serves the previous build if any");
    this.current = existsSync(path.join(this.dir, "index.html")) ? { state: "ready" } : { state: "failed", reason };
  }

  /** Stop a build still running (the server is shutting down). */
  close(): void {
    this.child?.kill("SIGTERM");
  }
}

const UNAVAILABLE_PAGE_STYLE =
  "body{font-family:system-ui,sans-serif;max-width:40rem;margin:10vh auto;padding:0 1rem;color:#1b1f24}pre{white-space:pre-wrap;background:#f5f6f8;padding:1rem;border-radius:6px}";
/** The CSP source that allows the "not available" page's inline style sheet. */
export const UNAVAILABLE_PAGE_STYLE_SOURCE = `'sha256-${createHash("sha256").update(UNAVAILABLE_PAGE_STYLE).digest("base64")}'`;

function unavailablePage(res: Response, state: Exclude<DashboardState, { state: "ready" }>): void {
  const building = state.state === "building";
  const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  res
    .status(503)
    .set("cache-control", "no-store")
    .set("retry-after", building ? "3" : "30")
    .type("html")
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">${
        building ? '<meta http-equiv="refresh" content="3">' : ""
      }<title>Switchyard dashboard</title><style>${UNAVAILABLE_PAGE_STYLE}</style></head><body>${
        building
          ? "<h1>The dashboard is being built</h1><p>This happens once after installing or updating Switchyard and takes a few seconds. This page reloads by itself.</p>"
          : `<h1>The dashboard is not available</h1><pre>${escapeHtml(state.reason)}</pre><p>The API works meanwhile.</p>`
      }</body></html>`,
    );
}

/** `/admin` and everything under it: built files, and index.html for the app's own routes (SPA fallback). */
export function registerDashboardRoutes(router: Router, routes: RouteTable, dashboard: Dashboard): void {
  const serve = (res: Response, file: string) => {
    const status = dashboard.status;
    if (status.state !== "ready") {
      unavailablePage(res, status);
      return;
    }
    const isAsset = file.startsWith("assets/");
    const hasExtension = /\.[a-z0-9]+$/i.test(file);
    const target = hasExtension ? file : "index.html";
    if (hasExtension && !existsSync(path.join(dashboard.dir, target))) {
      sendError(res, apiError("route_not_found", { method: "GET", path: `/admin/${file}` }));
      return;
    }
    // Hashed asset names change with their content, so they can be cached for good; the page cannot.
    res.set("cache-control", isAsset ? "public, max-age=31536000, immutable" : "no-cache");
    res.sendFile(target, { root: dashboard.dir, dotfiles: "deny" }, (error) => {
      // Gone meanwhile, or a path that tries to leave the directory: not found either way.
      if (error && !res.headersSent)
        sendError(res, apiError("route_not_found", { method: "GET", path: `/admin/${file}` }));
    });
  };
  routes.add(router, { method: "GET", path: "/admin", access: "public", summary: "The admin dashboard" }, (_req, res) =>
    serve(res, "index.html"),
  );
  routes.add(
    router,
    { method: "GET", path: "/admin/*file", access: "public", summary: "The admin dashboard's files and pages" },
    (req, res) => {
      const raw = (req.params as { file?: string | string[] }).file;
      serve(res, Array.isArray(raw) ? raw.join("/") : (raw ?? ""));
    },
  );
}
