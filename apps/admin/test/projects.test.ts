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
const HOUR = 3_600_000;

/** Horizontal overflow of the page: anything above 0 means the layout does not fit the viewport. */
const overflow = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);

/** The Projects page against a real server: create, staff, list with budget, burn-down, edit, at desk and phone widths. */
describe.skipIf(!enabled)("the projects page in a browser", () => {
  let server: RunningServer;
  let browser: Browser;
  let admin: Page;
  const nextYear = `${new Date().getUTCFullYear() + 1}-06-30`;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startLabServer(), launchBrowser()]);
    await createUser(server.ctx.db.prisma, { username: "ada", password: "ada-password-1" });
    admin = await browser.page({ width: 1440, height: 900 });
    await signIn(admin, server.url, "admin", ADMIN_PASSWORD);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const row = (name: string) => admin.locator(`tr[data-project="${name}"]`);

  it("creates a project from the form, lists it with its budget, and shows the procedure's refusal", async () => {
    await admin.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Projects" }).click();
    await row("default").waitFor();
    const form = admin.getByRole("form", { name: "Create a project" });
    await form.getByLabel("Name").fill("climate");
    await form.getByLabel("Description").fill("INCITE 2027");
    await form.getByLabel(/^Token budget/).fill("100000");
    await form.getByLabel(/^Valid until/).fill(nextYear);
    await form.getByRole("button", { name: "Create project" }).click();
    await admin.getByText("Created project climate.").waitFor();
    await row("climate").waitFor();
    expect(await row("climate").getByTestId("budget").textContent()).toBe("100.0k");
    expect(await row("climate").locator('[data-state="active"]').textContent()).toBe("Active");
    expect(await row("climate").getByTestId("members").textContent()).toBe("0");

    // The same name again: the procedure's 409, in its own words, next to the form.
    await form.getByLabel("Name").fill("climate");
    await form.getByRole("button", { name: "Create project" }).click();
    await form
      .getByRole("alert")
      .getByText(/climate/)
      .waitFor();
    expect(await form.getByRole("alert").textContent()).toMatch(/already exists/);
  });

  it("adds a member on the detail view, refuses an unknown user, and the list counts the member", async () => {
    await row("climate").getByRole("link", { name: "climate" }).click();
    const members = admin.getByTestId("project-members");
    await members.getByLabel("Member name").fill("ada");
    await members.getByRole("button", { name: "Add member" }).click();
    await admin.getByText("Added ada to climate.").waitFor();
    await members.getByRole("button", { name: "Remove ada from climate" }).waitFor();

    await members.getByLabel("Member name").fill("nobody");
    await members.getByRole("button", { name: "Add member" }).click();
    await admin
      .getByRole("alert")
      .getByText(/nobody/)
      .waitFor();

    await members.getByLabel("Member kind").selectOption("group");
    await members.getByLabel("Member name").fill("physics");
    await members.getByRole("button", { name: "Add member" }).click();
    await members.getByRole("button", { name: "Remove group physics from climate" }).waitFor();

    await admin.getByRole("button", { name: "All projects" }).click();
    await row("climate").getByTestId("members").getByText("2").waitFor();
    // Each change went through the audited procedures.
    const audit = await server.ctx.db.prisma.auditLog.findMany({ where: { targetId: "climate" } });
    expect(audit.map((a) => a.action).sort()).toEqual(["projects.addMember", "projects.addMember", "projects.create"]);
  });

  it("draws the burn-down from the project's usage and follows a budget change", async () => {
    // Usage charged to climate as the batch worker records it: 20k, 30k and 10k tokens, hours apart.
    const climate = await server.ctx.db.prisma.project.findUniqueOrThrow({ where: { name: "climate" } });
    const ada = await server.ctx.db.prisma.user.findUniqueOrThrow({ where: { username: "ada" } });
    const now = Date.now();
    await server.ctx.db.prisma.usageRecord.createMany({
      data: [
        [5, 20_000],
        [3, 30_000],
        [1, 10_000],
      ].map(([hoursAgo, tokens], i) => ({
        at: new Date(now - hoursAgo! * HOUR),
        requestId: `climate-${i}`,
        userId: ada.id,
        projectId: climate.id,
        model: "lab/hot-chat",
        clusterName: "lab",
        route: "/v1/chat/completions",
        status: 200,
        promptTokens: tokens! / 2,
        completionTokens: tokens! / 2,
        latencyMs: 100,
      })),
    });
    await admin.reload();
    await row("climate").locator("td", { hasText: "40.0k" }).waitFor(); // remaining
    expect(await row("climate").getByRole("progressbar").getAttribute("aria-valuenow")).toBe("40");
    await screenshot(admin, "projects");

    await row("climate").getByRole("link", { name: "climate" }).click();
    const detail = admin.getByTestId("project-detail");
    expect(await detail.getByTestId("remaining").textContent()).toBe("40.0k");
    const curve = admin.locator('[data-testid="burndown"] .recharts-line-curve');
    await curve.waitFor();
    // Steps: straight segments only (a smoothed curve would have Bézier 'C' commands), going down
    // three times, once per hour with usage.
    const d = (await curve.getAttribute("d")) ?? "";
    expect(d).not.toMatch(/[CcQqSs]/);
    const ys = [...d.matchAll(/[ML]\s*[\d.]+[,\s]+([\d.]+)/g)].map((m) => Number(m[1]));
    const drops = ys.filter((y, i) => i > 0 && y > ys[i - 1]! + 0.5).length; // SVG y grows downwards
    expect(drops).toBe(3);
    expect(Math.max(...ys)).toBeGreaterThan(Math.min(...ys));
    expect(await overflow(admin)).toBeLessThanOrEqual(0);
    await screenshot(admin, "project-detail");

    const settings = admin.getByRole("form", { name: "Project settings" });
    await settings.getByLabel(/^Token budget/).fill("200000");
    await settings.getByRole("button", { name: "Save", exact: true }).click();
    await admin.getByText("Saved climate.").waitFor();
    await detail.getByTestId("remaining").getByText("140.0k").waitFor();
    // A window that ends before it starts: the procedure refuses, the page says why.
    await settings.getByLabel(/^Valid from/).fill(`${new Date().getUTCFullYear() + 2}-01-01`);
    await settings.getByRole("button", { name: "Save", exact: true }).click();
    await admin
      .getByRole("alert")
      .getByText(/validUntil/)
      .waitFor();

    // Per-model limits and the switch.
    const limits = admin.getByRole("form", { name: "Per-model limits" });
    await limits.getByRole("button", { name: "Add a limit" }).click();
    await limits.getByLabel("Model of limit 1").fill("lab/hot-chat");
    await limits.getByLabel("Token limit of limit 1").fill("50000");
    await limits.getByRole("button", { name: "Save limits" }).click();
    await limits.getByText("60.0k spent").waitFor();
    await settings.getByLabel(/^Valid from/).fill("");
    await settings.getByLabel(/Active/).uncheck();
    await settings.getByRole("button", { name: "Save", exact: true }).click();
    await detail.locator('[data-state="inactive"]').getByText("Off").waitFor();
    const saved = await server.ctx.db.prisma.project.findUniqueOrThrow({
      where: { name: "climate" },
      include: { modelLimits: true },
    });
    expect(saved).toMatchObject({ active: false, tokenBudget: 200_000n, validFrom: null });
    expect(saved.modelLimits.map((l) => [l.model, Number(l.tokenLimit)])).toEqual([["lab/hot-chat", 50_000]]);
  });

  it("works at phone width: the list and the detail fit, the burn-down is drawn", async () => {
    const phone = await browser.page({ width: 390, height: 844 });
    await signIn(phone, server.url, "admin", ADMIN_PASSWORD, "/admin/projects");
    await phone.locator('tr[data-project="climate"]').waitFor();
    expect(await overflow(phone)).toBeLessThanOrEqual(0);
    await screenshot(phone, "phone-projects");
    await phone.locator('tr[data-project="climate"]').getByRole("link", { name: "climate" }).click();
    await phone.locator('[data-testid="burndown"] .recharts-line-curve').waitFor();
    expect(await overflow(phone)).toBeLessThanOrEqual(0);
    await screenshot(phone, "phone-project-detail");
    await phone.close();
  });
});
