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

async function apiToken(url: string, username: string, password: string): Promise<string> {
  const res = await fetch(`${url}/auth/token`, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "password", username, password }),
  });
  return ((await res.json()) as { access_token: string }).access_token;
}

/** The dashboard in Debian's chromium against a real server: sign-in, live states, keys, devices, roles. */
describe.skipIf(!enabled)("the admin dashboard in a browser", () => {
  let server: RunningServer;
  let browser: Browser;
  let admin: Page;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startLabServer(), launchBrowser()]);
    await createUser(server.ctx.db.prisma, { username: "ada", password: "ada-password-1" });
    // A day of usage as the gateway would record it, so the usage page has something to chart.
    const users = await server.ctx.db.prisma.user.findMany();
    const now = Date.now();
    await server.ctx.db.prisma.usageRecord.createMany({
      data: Array.from({ length: 240 }, (_, i) => ({
        at: new Date(now - (i % 24) * 3_600_000 - i * 1000),
        requestId: `seed-${i}`,
        userId: users[i % users.length]!.id,
        model: i % 3 === 0 ? "lab/dynamic-chat" : "lab/hot-chat",
        clusterName: "lab",
        route: "/v1/chat/completions",
        status: i % 17 === 0 ? 503 : 200,
        promptTokens: 40 + (i % 50),
        completionTokens: 100 + ((i * 7) % 300),
        latencyMs: 80 + ((i * 37) % 900),
      })),
    });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("signs in with username and password and shows the cluster as nodes and GPUs", async () => {
    admin = await browser.page();
    await admin.goto(`${server.url}/admin`);
    await expect.poll(() => admin.getByRole("heading", { name: "Sign in to Switchyard" }).isVisible()).toBe(true);
    await screenshot(admin, "sign-in");
    await admin.getByLabel("Username").fill("admin");
    await admin.getByLabel("Password").fill("wrong password");
    await admin.getByRole("button", { name: "Sign in", exact: true }).click();
    await admin.getByText("wrong username or password").waitFor();

    await admin.getByLabel("Password").fill(ADMIN_PASSWORD);
    await admin.getByRole("button", { name: "Sign in", exact: true }).click();
    await admin.getByTestId("username").waitFor();
    expect(await admin.getByTestId("username").textContent()).toBe("admin");
    const hotNode = admin.locator('[data-node="lab-hot-1"]');
    await hotNode.locator('[data-model="lab/hot-chat"] [data-status="live"]').waitFor();
    await admin.locator(".live-indicator.on").waitFor();
    await screenshot(admin, "overview");
  });

  it("refreshes an access token about to expire with the refresh token, staying signed in", async () => {
    const read = () => admin.evaluate(() => JSON.parse(sessionStorage.getItem("switchyard.session") ?? "null"));
    const before = await read();
    expect(before).toMatchObject({ provider: { kind: "password" }, refreshToken: expect.stringMatching(/^syr_/) });
    // Pretend 48 hours went by: the token has 30 s left, within the refresh margin.
    await admin.evaluate(() => {
      const stored = JSON.parse(sessionStorage.getItem("switchyard.session") ?? "{}");
      stored.expiresAt = Date.now() + 30_000;
      sessionStorage.setItem("switchyard.session", JSON.stringify(stored));
    });
    await admin.reload();
    await admin.locator('[data-node="lab-hot-1"]').waitFor();
    const after = await read();
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(after.refreshToken).not.toBe(before.refreshToken); // rotated
    expect(after.expiresAt).toBeGreaterThan(Date.now() + 47 * 3_600_000);
    // The old refresh token is spent: presenting it again is refused.
    const reuse = await fetch(`${server.url}/auth/token`, {
      method: "POST",
      body: new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: before.refreshToken,
        client_id: "sy-dashboard",
      }),
    });
    expect(reuse.status).toBe(400);
  });

  it("shows a dynamic model go Offline -> Starting -> Live on the overview without a reload", async () => {
    await admin.evaluate(() => {
      (window as unknown as { notReloaded: boolean }).notReloaded = true;
    });
    const rotating = admin.locator('[data-node="lab-rot-1"]');
    expect(await rotating.locator('[data-model="lab/dynamic-chat"]').count()).toBe(0);
    // Another operator starts it through the API; only the event stream can tell this page.
    const token = await apiToken(server.url, "admin", ADMIN_PASSWORD);
    const res = await fetch(`${server.url}/trpc/deployments.start`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ cluster: "lab", model: "lab/dynamic-chat" }),
    });
    expect(res.status).toBe(200);
    await rotating.locator('[data-model="lab/dynamic-chat"] [data-status="starting"]').waitFor();
    await screenshot(admin, "overview-starting");
    await rotating.locator('[data-model="lab/dynamic-chat"] [data-status="live"]').waitFor({ timeout: 20_000 });
    expect(await admin.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
  });

  it("starts, pins and stops models from the models page, with the transition history", async () => {
    await admin.getByRole("link", { name: "Models", exact: true }).click();
    const row = admin.locator('tr[data-model="lab/embed"]');
    await row.locator('[data-status="offline"]').waitFor();
    await admin.getByRole("button", { name: /^Offline/ }).click();
    expect(await admin.locator("tbody tr[data-model]").count()).toBe(1);
    await admin.getByRole("button", { name: /^All/ }).click();

    await row.getByRole("button", { name: "Start", exact: true }).click();
    await row.locator('[data-status="live"]').waitFor({ timeout: 20_000 });
    // Replicas live of the most allowed: one of one for the dynamic model, one of three for the hot one.
    await row.locator('[data-replicas="1/1"]').waitFor();
    expect(await row.locator("[data-replicas]").textContent()).toBe("1/1 replica");
    const hot = admin.locator('tr[data-model="lab/hot-chat"] [data-replicas]');
    expect([await hot.textContent(), await hot.getAttribute("title")]).toEqual([
      "1/3 replicas",
      "1 live of at most 3 (at least 1 kept)",
    ]);
    await row.getByRole("button", { name: "Pin", exact: true }).click();
    await row.getByText("pinned").waitFor();
    await row.getByRole("button", { name: "lab/embed", exact: true }).click();
    await admin.getByRole("heading", { name: "Transitions of lab/embed" }).waitFor();
    await admin.locator(".history li").filter({ hasText: "ready" }).first().waitFor();
    await screenshot(admin, "models");

    await row.getByRole("button", { name: "Stop", exact: true }).click();
    await row.getByRole("button", { name: "Confirm stop", exact: true }).click();
    await row.locator('[data-status="offline"]').waitFor({ timeout: 20_000 });
    await admin.getByRole("link", { name: "Audit log" }).click();
    await admin.locator('tr[data-action="deployments.stop"]').waitFor();
    expect(await admin.locator('tr[data-action="deployments.pin"]').count()).toBe(1);
    await screenshot(admin, "audit");
  });

  it("creates an API key shown once, and revokes it so it stops working", async () => {
    await admin.getByRole("link", { name: "API keys" }).click();
    await admin.getByLabel("Name").fill("browser test");
    await admin.getByRole("button", { name: "Create key", exact: true }).click();
    const shown = admin.getByTestId("new-key");
    await shown.waitFor();
    const key = (await shown.locator("code").textContent())?.trim() ?? "";
    expect(key).toMatch(/^sy_/);
    const me = await fetch(`${server.url}/v1/me`, { headers: { authorization: `Bearer ${key}` } });
    expect(me.status).toBe(200);
    await screenshot(admin, "keys");

    await shown.getByRole("button", { name: "I have saved it", exact: true }).click();
    expect(await admin.content()).not.toContain(key);
    const row = admin.locator("tr[data-key]").filter({ hasText: "browser test" });
    await row.getByRole("button", { name: "Revoke", exact: true }).click();
    await row.getByRole("button", { name: "Confirm revoke", exact: true }).click();
    await admin.getByText(/Revoked browser test/).waitFor();
    const after = await fetch(`${server.url}/v1/me`, { headers: { authorization: `Bearer ${key}` } });
    expect(after.status).toBe(401);
  });

  it("approves a device login started over HTTP, after which the device's token poll succeeds", async () => {
    const start = (await (
      await fetch(`${server.url}/auth/device/code`, {
        method: "POST",
        body: new URLSearchParams({ client_id: "sy-cli" }),
      })
    ).json()) as { device_code: string; user_code: string };
    const poll = () =>
      fetch(`${server.url}/auth/token`, {
        method: "POST",
        body: new URLSearchParams({
          grant_type: "urn:ietf:params:oauth:grant-type:device_code",
          device_code: start.device_code,
          client_id: "sy-cli",
        }),
      });
    expect(((await (await poll()).json()) as { error: string }).error).toBe("authorization_pending");

    // A signed-in user follows the link from the server's /device page.
    await admin.goto(`${server.url}/device?user_code=${start.user_code}`);
    await admin.getByRole("link", { name: "Approve it there" }).click();
    const request = admin.getByTestId("device-request");
    await request.getByText("sy-cli").waitFor();
    await screenshot(admin, "device");
    await request.getByRole("button", { name: "Approve", exact: true }).click();
    await admin.getByText("Approved. Return to your terminal").waitFor();

    // Past the polling interval (5 s) the device gets its tokens.
    await new Promise((resolve) => setTimeout(resolve, 5_100));
    const tokens = (await (await poll()).json()) as { access_token?: string };
    expect(tokens.access_token).toBeDefined();
    const me = (await (
      await fetch(`${server.url}/v1/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } })
    ).json()) as { username: string };
    expect(me.username).toBe("admin");
  });

  it("manages users and groups, and charts usage", async () => {
    await admin.goto(`${server.url}/admin/users`);
    await admin.locator('tr[data-user="ada"]').waitFor();
    await admin.getByLabel("Username").fill("lin");
    await admin.getByLabel("Groups").fill("physics");
    await admin.getByRole("button", { name: "Create user", exact: true }).click();
    await admin.getByTestId("generated-password").waitFor();
    await admin.locator('tr[data-user="lin"]').getByText("physics").waitFor();
    await screenshot(admin, "users");

    await admin.getByRole("link", { name: "Groups" }).click();
    await admin.getByLabel(/^Group/).fill("physics");
    await admin.getByLabel("User").fill("ada");
    await admin.getByRole("button", { name: "Add", exact: true }).click();
    await admin.getByText("Added ada to physics.").waitFor();
    await admin.locator('[data-group="physics"]').getByText("ada").waitFor();
    await screenshot(admin, "groups");

    await admin.getByRole("link", { name: "Usage" }).click();
    await admin.locator('[data-testid="chart-requests"] .recharts-surface').first().waitFor();
    await admin.locator('[data-testid="chart-totalTokens"] .recharts-surface').first().waitFor();
    await admin.getByRole("heading", { name: "By user" }).waitFor();
    await admin.getByText("p95").first().waitFor();
    await screenshot(admin, "usage");
  });

  it("shows a non-admin their own view: no admin pages, no model actions", async () => {
    const ada = await browser.page();
    await signIn(ada, server.url, "ada", "ada-password-1", "/admin/models");
    await ada.locator('tr[data-model="lab/hot-chat"]').waitFor();
    expect(await ada.getByTestId("model-actions").count()).toBe(0);
    expect(await ada.getByRole("button", { name: "Start", exact: true }).count()).toBe(0);
    const nav = ada.getByRole("navigation", { name: "Pages" });
    expect(await nav.getByRole("link").allTextContents()).toEqual([
      "Overview",
      "Models",
      "Playground",
      "Batches",
      "Usage",
      "Request log",
      "API keys",
      "Approve a device",
    ]);
    await screenshot(ada, "non-admin-models");
    await ada.goto(`${server.url}/admin/users`);
    await ada.getByText("This page is for administrators").waitFor();
    await ada.getByRole("link", { name: "Usage" }).click();
    await ada.getByRole("heading", { name: "Your usage" }).waitFor();
    // Her own row only in the per-user table.
    await ada.getByTestId("breakdown-user").locator('tr[data-row="ada"]').waitFor();
    expect(await ada.getByTestId("breakdown-user").locator("tbody tr").count()).toBe(1);
    await ada.close();
  });

  it("works at phone width", async () => {
    const phone = await browser.page({ width: 390, height: 844 });
    await signIn(phone, server.url, "admin", ADMIN_PASSWORD);
    await phone.locator('[data-node="lab-hot-1"]').waitFor();
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(phone, "phone-overview");
    await phone.getByRole("button", { name: "Menu", exact: true }).click();
    await phone.getByRole("link", { name: "Models", exact: true }).click();
    await phone.locator('tr[data-model="lab/hot-chat"]').waitFor();
    expect(await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
    await screenshot(phone, "phone-models");
    await phone.close();
  });

  it("shows the overview's headline figures after a few requests, and a sign-in in the audit log as fields", async () => {
    // A few streamed requests through the gateway: they make time-to-first-token measurable.
    const token = await apiToken(server.url, "admin", ADMIN_PASSWORD);
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${server.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({
          model: "lab/hot-chat",
          stream: true,
          messages: [{ role: "user", content: `figure ${i}` }],
        }),
      });
      expect(res.status).toBe(200);
      await res.text();
    }
    for (const [viewport, suffix] of [
      [{ width: 1440, height: 900 }, ""],
      [{ width: 390, height: 844 }, "-phone"],
    ] as const) {
      const page = await browser.page(viewport);
      await signIn(page, server.url, "admin", ADMIN_PASSWORD);
      const figure = (id: string) => page.getByTestId(`figure-${id}`);
      // The usage recorder writes in batches: reload until the streamed requests are counted.
      await expect
        .poll(
          async () => {
            await page.reload();
            await figure("ttft").waitFor();
            return figure("ttft").textContent();
          },
          { timeout: 30_000, interval: 1000 },
        )
        .toMatch(/^\d+(\.\d)? m?s$/);
      expect(await figure("rps").textContent()).toMatch(/^\d+(\.\d+)?$/);
      expect(Number(await figure("rps").textContent())).toBeGreaterThan(0);
      expect(await figure("errors").textContent()).toMatch(/^\d+\.\d %$/);
      expect(await figure("tokens").textContent()).toMatch(/^\d+(\.\d+)?$/);
      expect(await figure("gpus").textContent()).toMatch(/^\d+ \/ \d+$/);
      expect(await figure("backlog").textContent()).toMatch(/^\d+$/);
      expect(await page.locator("[data-figure] svg.sparkline").count()).toBeGreaterThan(0);
      expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(
        0,
      );
      await screenshot(page, `overview-figures${suffix}`);

      // The sign-in just made is in the audit log, its details as labelled fields, not JSON.
      await page.goto(`${server.url}/admin/audit`);
      const signInRow = page.locator('tr[data-action="auth.signIn"]').first();
      await signInRow.waitFor();
      const fields = signInRow.locator("dl.fields");
      expect((await fields.locator("dt").allTextContents()).sort()).toEqual(["address", "client", "method"]);
      const value = (label: string) => fields.locator("div").filter({ has: page.getByText(label, { exact: true }) });
      expect(await value("method").locator("dd").textContent()).toBe("password");
      expect(await value("address").locator("dd").textContent()).toMatch(/127\.0\.0\.1/);
      expect(await signInRow.textContent()).not.toContain("{");
      await screenshot(page, `audit-fields${suffix}`);
      await page.close();
    }
  });

  it("met no Content-Security-Policy violation on any page it opened, /device's styles included", async () => {
    const page = await browser.page();
    const res = await page.goto(`${server.url}/device?user_code=BCDF-GHJK`);
    expect(res?.headers()["content-security-policy"]).toMatch(/default-src 'none'/);
    // The page's inline style sheet is allowed by its hash: it applies.
    expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe("rgb(245, 246, 248)");
    const dashboard = await page.goto(`${server.url}/admin`);
    expect(dashboard?.headers()["content-security-policy"]).toMatch(/script-src 'self'/);
    expect(dashboard?.headers()["x-frame-options"]).toBe("DENY");
    await page.close();
    expect(browser.cspViolations).toEqual([]);
  });
});
