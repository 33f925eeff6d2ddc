import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../../src";
import { ADMIN_PASSWORD, memoryLogger, tempDataDir } from "../helpers";

/** The sha256 source a page's one inline style sheet needs in its CSP, if it has one. */
function styleSource(html: string): string | undefined {
  const css = /<style>([^<]*)<\/style>/.exec(html)?.[1];
  return css === undefined ? undefined : `'sha256-${createHash("sha256").update(css).digest("base64")}'`;
}

/**
 * The HTML pages (the dashboard, the /device approval form, the API reference) framed by a
 * hostile page to trick a click on "Approve", or fed script through an injected tag: each is
 * sent with a CSP that allows no inline script and no framing, X-Frame-Options DENY, nosniff
 * and no Referer (the device and callback URLs carry codes).
 */
describe("security headers on the HTML pages", () => {
  let server: RunningServer;

  beforeAll(async () => {
    const dashboardDir = mkdtempSync(path.join(tmpdir(), "sy-dashboard-"));
    mkdirSync(path.join(dashboardDir, "assets"));
    writeFileSync(path.join(dashboardDir, "index.html"), "<!doctype html><title>Switchyard</title>");
    writeFileSync(path.join(dashboardDir, "assets", "app-1234.js"), "console.log(1)");
    server = await startServer({
      port: 0,
      host: "127.0.0.1",
      dataDir: tempDataDir(),
      inMemoryDatabase: true,
      schedulerAutoTick: false,
      dashboardDir,
      logger: memoryLogger().logger,
      env: { SWITCHYARD_ADMIN_PASSWORD: ADMIN_PASSWORD },
    });
  });
  afterAll(() => server?.close());

  it("/admin, /device and /docs cannot be framed, sniffed, run inline script or leak their URL as a Referer", async () => {
    const pages = ["/admin", "/admin/models", "/admin/assets/app-1234.js", "/device", "/device?user_code=ABCD-EFGH"];
    for (const page of [...pages, "/docs"]) {
      const res = await fetch(`${server.url}${page}`);
      expect(res.status, page).toBe(200);
      expect(res.headers.get("x-frame-options"), page).toBe("DENY");
      expect(res.headers.get("x-content-type-options"), page).toBe("nosniff");
      expect(res.headers.get("referrer-policy"), page).toBe("no-referrer");
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp, page).toMatch(/frame-ancestors 'none'/);
      expect(csp, page).toMatch(/object-src 'none'/);
      expect(csp, page).toMatch(/script-src '(self|none)'/);
      expect(csp, page).not.toMatch(/unsafe-inline|unsafe-eval/);
      const inline = styleSource(await res.text());
      if (inline) expect(csp, page).toContain(inline);
    }
    // The approval form runs no script at all.
    const device = await fetch(`${server.url}/device`);
    expect(device.headers.get("content-security-policy")).toMatch(/script-src 'none'/);
    // The API itself is not a page: its JSON needs none of this.
    expect((await fetch(`${server.url}/health`)).headers.get("content-security-policy")).toBeNull();
  });
});
