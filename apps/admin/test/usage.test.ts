import { readFileSync } from "node:fs";
import { createUser } from "@switchyard/auth";
import type { RunningServer } from "@switchyard/server";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ADMIN_PASSWORD,
  type Browser,
  chromiumAvailable,
  launchBrowser,
  screenshot,
  signIn,
  startLabServer,
} from "./browser";

const enabled = chromiumAvailable();
const MINUTE = 60_000;
const VIEWPORTS = [
  [{ width: 1440, height: 900 }, ""],
  [{ width: 390, height: 844 }, "-phone"],
] as const;

/** Horizontal overflow of the page: anything above 0 means the layout does not fit the viewport. */
const overflow = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);

/** The x axis of one chart: each tick's label and where it sits across the page. */
async function axis(page: Page, chart: string): Promise<{ text: string; x: number }[]> {
  const ticks = page.locator(`[data-testid="${chart}"] .recharts-xAxis .recharts-cartesian-axis-tick`);
  const out: { text: string; x: number }[] = [];
  for (const tick of await ticks.all()) {
    const box = await tick.boundingBox();
    out.push({ text: (await tick.textContent()) ?? "", x: Math.round(box?.x ?? -1) });
  }
  return out;
}

/** The usage page's bars, range picker, auto-refresh and tables, and the request log, at desk and phone widths. */
describe.skipIf(!enabled)("the usage page and the request log in a browser", () => {
  let server: RunningServer;
  let browser: Browser;
  const consoleErrors: string[] = [];
  /** ada's requests in the seed, newest first. */
  let adaRequests = 0;

  /** A tab that records every console error and uncaught exception of the page. */
  async function tab(viewport: { width: number; height: number }): Promise<Page> {
    const page = await browser.page(viewport);
    page.on("console", (message) => {
      if (message.type() === "error") consoleErrors.push(`${page.url()}: ${message.text()}`);
    });
    page.on("pageerror", (error) => consoleErrors.push(`${page.url()}: ${error.message}`));
    return page;
  }

  beforeAll(async () => {
    [server, browser] = await Promise.all([startLabServer(), launchBrowser()]);
    const prisma = server.ctx.db.prisma;
    await createUser(prisma, { username: "ada", password: "ada-password-1" });
    const users = Object.fromEntries((await prisma.user.findMany()).map((u) => [u.username, u.id]));
    const climate = await prisma.project.create({ data: { name: "climate" } });
    const now = Date.now();
    // A burst in the last hour (one request a minute, half streamed) and a request every ~5 min over
    // the last day: 360 rows, every 13th failed (503), every 7th refused (429), a third charged to climate.
    const at = [
      ...Array.from({ length: 60 }, (_, i) => now - i * MINUTE - 5_000),
      ...Array.from({ length: 300 }, (_, i) => now - 60 * MINUTE - i * 4 * MINUTE - 7_000),
    ];
    const data = at.map((t, i) => {
      const stream = i % 2 === 0;
      const user = i % 3 === 1 ? "ada" : "admin";
      if (user === "ada") adaRequests++;
      return {
        at: new Date(t),
        requestId: `seed-${i}`,
        userId: users[user]!,
        model: i % 4 === 0 ? "lab/dynamic-chat" : "lab/hot-chat",
        clusterName: "lab",
        route: "/v1/chat/completions",
        status: i % 13 === 0 ? 503 : i % 7 === 0 ? 429 : 200,
        promptTokens: 40 + (i % 50),
        completionTokens: 100 + ((i * 7) % 300),
        latencyMs: 80 + ((i * 37) % 900),
        ttftMs: stream ? 20 + (i % 40) : null,
        stream,
        projectId: i % 3 === 0 ? climate.id : null,
      };
    });
    await prisma.usageRecord.createMany({ data });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("draws bars per bucket on one time axis for 1 h, 24 h, 7 d and a custom range, refreshes itself, and exports the tables as CSV", async () => {
    for (const [viewport, suffix] of VIEWPORTS) {
      const page = await tab(viewport);
      await signIn(page, server.url, "admin", ADMIN_PASSWORD, "/admin/usage");
      const heading = (text: string) => page.getByRole("heading", { name: text, exact: true });
      const bars = (chart: string) => page.locator(`[data-testid="${chart}"] .recharts-bar-rectangle path`);

      // The default: the last 24 h in 15-minute bars.
      await heading("Requests per 15 minutes").waitFor();
      await heading("Tokens per 15 minutes").waitFor();
      await expect.poll(() => bars("chart-totalTokens").count()).toBeGreaterThan(20);

      for (const [button, per, most] of [
        ["1 h", "minute", 61],
        ["7 d", "hour", 169],
        ["24 h", "15 minutes", 97],
      ] as const) {
        await page.getByRole("button", { name: button, exact: true }).click();
        await heading(`Requests per ${per}`).waitFor();
        await heading(`Tokens per ${per}`).waitFor();
        expect(new URL(page.url()).searchParams.get("range")).toBe(button.replace(" ", ""));
        // One rectangle per bucket and series at most: bars, never an area.
        await expect.poll(() => bars("chart-requests").count()).toBeGreaterThan(0);
        expect(await page.locator(".recharts-area").count()).toBe(0);
        expect(await bars("chart-requests").count()).toBeLessThanOrEqual(most * 2);
        // Both charts share the time axis: the same labels at the same places.
        const requests = await axis(page, "chart-requests");
        expect(requests.length).toBeGreaterThanOrEqual(2);
        expect(await axis(page, "chart-totalTokens")).toEqual(requests);
        expect(await overflow(page)).toBeLessThanOrEqual(0);
        if (button === "1 h") await screenshot(page, `usage-1h${suffix}`);
      }

      // A custom range of two days: 15-minute bars again, from the From/To fields.
      await page.getByRole("button", { name: "Custom", exact: true }).click();
      const end = Date.now();
      const local = (ms: number) => new Date(ms - new Date(ms).getTimezoneOffset() * MINUTE).toISOString().slice(0, 16);
      await page.getByLabel("From", { exact: true }).fill(local(end - 3 * 24 * 60 * MINUTE));
      await page.getByLabel("To", { exact: true }).fill(local(end + 60 * MINUTE));
      await page.getByRole("button", { name: "Apply", exact: true }).click();
      await heading("Requests per hour").waitFor();
      expect(await axis(page, "chart-totalTokens")).toEqual(await axis(page, "chart-requests"));
      // A backwards range is refused on the page, before any request.
      await page.getByLabel("From", { exact: true }).fill(local(end));
      await page.getByLabel("To", { exact: true }).fill(local(end - 60 * MINUTE));
      await page.getByRole("button", { name: "Apply", exact: true }).click();
      await page.getByText("From must be before To.").waitFor();
      await page.getByRole("button", { name: "24 h", exact: true }).click();
      await heading("Requests per 15 minutes").waitFor();

      // Per-user and per-project tables over the range.
      const byUser = page.getByTestId("breakdown-user");
      const byProject = page.getByTestId("breakdown-project");
      await byUser.locator('tr[data-row="ada"]').waitFor();
      await byUser.locator('tr[data-row="admin"]').waitFor();
      await byProject.locator('tr[data-row="climate"]').waitFor();
      await byProject.locator('tr[data-row="(no project)"]').waitFor();
      await screenshot(page, `usage${suffix}`);

      if (suffix === "") {
        // The CSV is the table's rows with whole numbers, a header first, CRLF line ends.
        const [download] = await Promise.all([
          page.waitForEvent("download"),
          byUser.getByRole("button", { name: "Download CSV", exact: true }).click(),
        ]);
        expect(download.suggestedFilename()).toMatch(/^usage-by-user-\d{4}-\d\d-\d\dT\d{4}-.*\.csv$/);
        const csv = readFileSync((await download.path()) as string, "utf8");
        const lines = csv.split("\r\n");
        expect(lines[0]).toBe("User,Requests,Prompt tokens,Completion tokens,Total tokens,Errors");
        expect(lines.at(-1)).toBe("");
        const cells = Object.fromEntries(lines.slice(1, -1).map((line) => [line.split(",")[0], line.split(",")]));
        expect(Object.keys(cells).sort()).toEqual(["ada", "admin"]);
        const shown = (await byUser.locator('tr[data-row="ada"] td').allTextContents()).map((t) => t.replace(/,/g, ""));
        expect(cells.ada!.slice(1, 3)).toEqual(shown.slice(1, 3));
        expect(Number(cells.ada![4])).toBe(Number(cells.ada![2]) + Number(cells.ada![3]));

        // Auto-refresh every 10 s: the "updated" time moves on without a click.
        const updated = page.getByTestId("usage-updated");
        const before = await updated.textContent();
        await page.getByLabel("Auto-refresh").selectOption({ label: "10 s" });
        await expect.poll(() => updated.textContent(), { timeout: 15_000, interval: 500 }).not.toBe(before);
        expect(await updated.textContent()).toContain("every 10 s");
        // The range and the refresh are in the address: a reload keeps them.
        expect(new URL(page.url()).search).toBe("?range=24h&refresh=10s");
        await page.reload();
        await heading("Requests per 15 minutes").waitFor();
        expect(await page.getByLabel("Auto-refresh").inputValue()).toBe("10000");
        await page.getByLabel("Auto-refresh").selectOption({ label: "Off" });
      }
      await page.close();
    }
  });

  it("pages the request log on the server, 50 at a time, with filters; a user sees their own requests", async () => {
    for (const [viewport, suffix] of VIEWPORTS) {
      const page = await tab(viewport);
      await signIn(page, server.url, "admin", ADMIN_PASSWORD);
      if (suffix) await page.getByRole("button", { name: "Menu", exact: true }).click();
      await page.getByRole("link", { name: "Request log", exact: true }).click();
      await page.getByRole("heading", { name: "Request log" }).waitFor();
      const rows = page.locator('[data-testid="request-log"] tbody tr');
      await expect.poll(() => rows.count()).toBe(50);
      expect(await page.getByTestId("log-page").textContent()).toBe("Page 1 · 50 requests");
      expect(await rows.first().getAttribute("data-request")).toBe("seed-0");
      const firstPage = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-request")));
      await screenshot(page, `request-log${suffix}`);

      // Older: the next 50, none repeated; Newer: back to the first page.
      await page.getByRole("button", { name: "Older", exact: true }).click();
      await expect.poll(() => rows.first().getAttribute("data-request")).toBe("seed-50");
      expect(await page.getByTestId("log-page").textContent()).toBe("Page 2 · 50 requests");
      const secondPage = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-request")));
      expect(secondPage[0]).toBe("seed-50");
      expect(secondPage.filter((id) => firstPage.includes(id))).toEqual([]);
      await page.getByRole("button", { name: "Newer", exact: true }).click();
      await expect.poll(() => rows.first().getAttribute("data-request")).toBe("seed-0");

      // Filters: 5xx only; then one user's 2xx of the last 24 h (two pages); then one model of theirs.
      await page.getByLabel("Status").selectOption("5xx");
      await expect
        .poll(async () => new Set(await rows.evaluateAll((t) => t.map((r) => r.dataset.status))))
        .toEqual(new Set(["503"]));
      expect(await rows.count()).toBe(Math.ceil(360 / 13));
      expect(await page.getByRole("button", { name: "Older", exact: true }).isDisabled()).toBe(true);
      await page.getByLabel("Status").selectOption("2xx");
      await page.getByLabel("User").fill("ada");
      await page.getByRole("button", { name: "24 h", exact: true }).click();
      await expect
        .poll(async () => new Set(await rows.locator('td[data-label="User"]').allTextContents()))
        .toEqual(new Set(["ada"]));
      expect(await rows.count()).toBe(50);
      expect(new Set(await rows.evaluateAll((t) => t.map((r) => r.dataset.status)))).toEqual(new Set(["200"]));
      expect(await page.getByRole("button", { name: "Older", exact: true }).isEnabled()).toBe(true);
      await page.getByLabel("Model").fill("lab/dynamic-chat");
      // ada's (i % 3 = 1) requests to the dynamic model (i % 4 = 0) that were answered.
      const expected = Array.from({ length: 360 }, (_, i) => i).filter(
        (i) => i % 12 === 4 && i % 13 !== 0 && i % 7 !== 0,
      ).length;
      await expect.poll(() => rows.count()).toBe(expected);
      expect(new Set(await rows.locator(".model-id").allTextContents())).toEqual(new Set(["lab/dynamic-chat"]));
      expect(await page.getByRole("button", { name: "Older", exact: true }).isDisabled()).toBe(true);
      expect(await overflow(page)).toBeLessThanOrEqual(0);
      await screenshot(page, `request-log-filtered${suffix}`);
      await page.close();
    }

    // ada: her own requests only, no user column or filter.
    const ada = await tab({ width: 1440, height: 900 });
    await signIn(ada, server.url, "ada", "ada-password-1", "/admin/requests");
    await ada.getByRole("heading", { name: "Your requests" }).waitFor();
    const rows = ada.locator('[data-testid="request-log"] tbody tr');
    await expect.poll(() => rows.count()).toBe(50);
    expect(await ada.getByLabel("User").count()).toBe(0);
    expect(await rows.first().getAttribute("data-request")).toBe("seed-1");
    let seen = 50;
    const idle = ada.locator('[data-testid="request-log"][aria-busy="false"]');
    while (await ada.getByRole("button", { name: "Older", exact: true }).isEnabled()) {
      const first = await rows.first().getAttribute("data-request");
      await ada.getByRole("button", { name: "Older", exact: true }).click();
      await expect.poll(() => rows.first().getAttribute("data-request")).not.toBe(first);
      await idle.waitFor();
      seen += await rows.count();
    }
    expect(seen).toBe(adaRequests);
    await ada.close();
  });

  it("met no console error and no Content-Security-Policy violation on these pages", () => {
    expect(consoleErrors).toEqual([]);
    expect(browser.cspViolations).toEqual([]);
  });
});
