import type { RunningServer } from "@switchyard/server";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type Browser, chromiumAvailable, launchBrowser, screenshot, startLabServer } from "./browser";
import { DASHBOARD_CLIENT, type DashboardIdp, RESOURCE, startDashboardIdp } from "./idp";

const enabled = chromiumAvailable();
// oidc-provider warns about its development defaults; the test does not need those lines.
vi.spyOn(console, "warn").mockImplementation(() => {});

/** "Sign in with <provider>": authorization code + PKCE in the browser, the provider's token accepted by Switchyard. */
describe.skipIf(!enabled)("single sign-on on the dashboard", () => {
  let idp: DashboardIdp;
  let server: RunningServer;
  let browser: Browser;

  beforeAll(async () => {
    idp = await startDashboardIdp();
    [server, browser] = await Promise.all([
      startLabServer(`
auth:
  oidc:
    - issuer: ${idp.issuer}
      audience: switchyard
      displayName: Lab SSO
      dashboard: { clientId: ${DASHBOARD_CLIENT}, scope: "openid profile api", resource: ${RESOURCE} }
`),
      launchBrowser(),
    ]);
    idp.attach(`${server.url}/admin/auth/callback`);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await idp?.close();
  });

  it("signs in at the provider and comes back signed in as that user, with the provider's groups", async () => {
    const page = await browser.page();
    await page.goto(`${server.url}/admin/models`);
    await page.getByRole("button", { name: "Sign in with Lab SSO" }).click();
    await page.waitForURL(`${idp.issuer}/**`);
    await page.locator('input[name="login"]').fill("carol");
    await page.locator('input[name="password"]').fill("anything");
    await page.getByRole("button", { name: "Sign-in" }).click();
    await page.getByRole("button", { name: "Continue" }).click();

    await page.getByTestId("username").waitFor();
    expect(await page.getByTestId("username").textContent()).toBe("carol");
    // Back where the user started, with their session held by the provider's token.
    expect(new URL(page.url()).pathname).toBe("/admin/models");
    await page.locator('tr[data-model="lab/hot-chat"]').waitFor();
    await screenshot(page, "sso-signed-in");
    const carol = await server.ctx.db.prisma.user.findUniqueOrThrow({
      where: { username: "carol" },
      include: { groups: { include: { group: true } } },
    });
    expect(carol.issuer).toBe(idp.issuer);
    expect(carol.groups.map((m) => [m.group.name, m.source])).toEqual([["physics", "oidc"]]);
    const stored = await page.evaluate(() => JSON.parse(sessionStorage.getItem("switchyard.session") ?? "{}"));
    expect(stored.provider).toMatchObject({ kind: "oidc", issuer: idp.issuer, clientId: DASHBOARD_CLIENT });
    await page.close();
  });

  it("says why when the provider refuses, and offers to start again", async () => {
    const page = await browser.page();
    await page.goto(`${server.url}/admin/auth/callback?error=access_denied&error_description=the+user+said+no`);
    await page.getByText("The identity provider refused: the user said no.").waitFor();
    await page.getByRole("button", { name: "Back to sign-in" }).click();
    await page.getByRole("button", { name: "Sign in with Lab SSO" }).waitFor();
    await page.close();
  });

  it("met no Content-Security-Policy violation on any page it opened", () => {
    expect(browser.cspViolations).toEqual([]);
  });
});
