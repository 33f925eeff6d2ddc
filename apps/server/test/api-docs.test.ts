import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { CHROMIUM, CHROMIUM_ARGS, chromiumAvailable } from "@switchyard/db/testing";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../src";
import { memoryLogger, tempDataDir } from "./helpers";

describe("the API reference page (/docs)", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({
      port: 0,
      host: "127.0.0.1",
      dataDir: tempDataDir(),
      inMemoryDatabase: true,
      schedulerAutoTick: false,
      logger: memoryLogger().logger,
      env: { SWITCHYARD_ADMIN_PASSWORD: "api-docs-test" },
    });
  });
  afterAll(() => server?.close());

  it("answers HTML, without signing in, that loads only files from this server", async () => {
    const res = await fetch(`${server.url}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    const html = await res.text();
    const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? "");
    expect(urls.length).toBeGreaterThanOrEqual(3);
    for (const url of urls) expect(url, url).toMatch(/^\/docs\/assets\/[\w.-]+$/);
    expect(html).not.toMatch(/https?:\/\//); // no CDN, no outside URL of any kind
    expect(html).not.toMatch(/<script>/); // no inline script for the policy to block

    const types: Record<string, RegExp> = { ".js": /^text\/javascript/, ".css": /^text\/css/, ".png": /^image\/png/ };
    for (const url of urls) {
      const asset = await fetch(`${server.url}${url}`);
      expect(asset.status, url).toBe(200);
      expect(asset.headers.get("content-type"), url).toMatch(types[path.extname(url)] ?? /^$/);
      expect((await asset.arrayBuffer()).byteLength, url).toBeGreaterThan(100);
    }
    // The rest of the package folder (its demo page pointing at an outside document) is not served.
    for (const other of ["index.html", "swagger-initializer.js", "package.json", "..%2Fpackage.json"]) {
      const res = await fetch(`${server.url}/docs/assets/${other}`);
      expect(res.status, other).toBe(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("route_not_found");
    }
  });

  it("is in the route table, so /openapi.json lists it as public", async () => {
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as any;
    expect(doc.paths["/docs"].get.security).toEqual([]);
    expect(doc.paths["/docs/assets/{file}"].get.security).toEqual([]);
  });

  it.skipIf(!chromiumAvailable("the /docs browser check"))(
    "renders in chromium under its Content-Security-Policy: the API's title and its paths",
    async () => {
      const profile = mkdtempSync(path.join(tmpdir(), "sy-docs-chromium-"));
      const context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        args: [...CHROMIUM_ARGS],
        headless: true,
        viewport: { width: 1280, height: 900 },
      });
      try {
        const page = await context.newPage();
        const problems: string[] = [];
        const foreign: string[] = [];
        page.on("console", (m) => {
          if (m.type() === "error") problems.push(m.text());
        });
        page.on("pageerror", (e) => problems.push(String(e)));
        page.on("request", (r) => {
          if (!r.url().startsWith(server.url) && !r.url().startsWith("data:")) foreign.push(r.url());
        });
        await page.goto(`${server.url}/docs`);
        await page.locator(".swagger-ui .info .title").getByText("Switchyard").waitFor({ timeout: 20_000 });
        await page
          .locator(".opblock-summary-path", { hasText: /^\/v1\/chat\/completions$/ })
          .first()
          .waitFor();
        await page
          .locator(".opblock-summary-path", { hasText: /^\/v1\/models$/ })
          .first()
          .waitFor();
        expect(problems).toEqual([]);
        expect(foreign).toEqual([]);
      } finally {
        await context.close();
        rmSync(profile, { recursive: true, force: true });
      }
    },
    60_000,
  );
});
