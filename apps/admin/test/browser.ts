import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CHROMIUM, CHROMIUM_ARGS, chromiumAvailable as chromiumAvailableFor } from "@switchyard/db/testing";
import { type RunningServer, startServer } from "@switchyard/server";
import { pino } from "pino";
import { type BrowserContext, chromium, type Page } from "playwright-core";

export const RESULTS_DIR = fileURLToPath(new URL("../test-results/", import.meta.url));
export const ADMIN_PASSWORD = "admin-password-for-tests";

/** Whether chromium is here; missing with SWITCHYARD_REQUIRE_SERVICES=1 is a failure, otherwise a skip. */
export function chromiumAvailable(): boolean {
  return chromiumAvailableFor("the browser tests");
}

export interface Browser {
  context: BrowserContext;
  /** Every Content-Security-Policy violation any page reported (the policy must not break the dashboard). */
  cspViolations: string[];
  /** A fresh tab (its own sessionStorage, so signed out). */
  page(viewport?: { width: number; height: number }): Promise<Page>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  const profile = mkdtempSync(path.join(tmpdir(), "sy-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: [...CHROMIUM_ARGS],
    headless: true,
    viewport: { width: 1280, height: 900 },
  });
  context.setDefaultTimeout(15_000);
  const cspViolations: string[] = [];
  // Init scripts come from the browser, not the page, so the policy under test does not block this one.
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) => {
      console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline"}`);
    });
  });
  const watch = (page: Page) =>
    page.on("console", (message) => {
      if (/Content.Security.Policy|CSP violation/i.test(message.text()))
        cspViolations.push(`${page.url()}: ${message.text()}`);
    });
  context.on("page", watch);
  return {
    context,
    cspViolations,
    async page(viewport) {
      const page = await context.newPage();
      if (viewport) await page.setViewportSize(viewport);
      return page;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Save a screenshot as a test artefact (apps/admin/test-results, ignored by git). */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(RESULTS_DIR, { recursive: true });
  await page.screenshot({ path: path.join(RESULTS_DIR, `${name}.png`), fullPage: true });
}

/** A small lab: a hot model (one replica, up to 3 with demand), a dynamic one that takes 3 s to load (to watch it start), an embedding model. */
export const LAB_CONFIG = `
scheduler: { tickInterval: 100ms, busyWindow: 0s, minStartTimeout: 30s, stopGrace: 2s, drainTimeout: 5s }
clusters:
  - name: lab
    displayName: Lab
    nodes:
      - { name: lab-hot-1, gpus: 4, role: hot }
      - { name: lab-rot-1, gpus: 8, role: rotating }
    frameworks: [vllm]
models:
  - id: lab/hot-chat
    cluster: lab
    framework: vllm
    family: Lab
    capabilities: [chat, completions, batch, tools]
    placement: hot
    node: lab-hot-1
    maxReplicas: 3
    contextLength: 32768
    engine: { type: simulator, loadTime: 200ms, profile: fast }
  - id: lab/dynamic-chat
    cluster: lab
    framework: vllm
    family: Lab
    capabilities: [chat, reasoning, vision]
    placement: dynamic
    gpus: 2
    aliases: [dyn]
    engine: { type: simulator, loadTime: 3s, profile: fast }
  - id: lab/embed
    cluster: lab
    framework: vllm
    capabilities: [embedding]
    placement: dynamic
    engine: { type: simulator, loadTime: 200ms, profile: fast }
`;

/** A real server on port 0 with the lab config and the built dashboard. */
export async function startLabServer(extraConfig = ""): Promise<RunningServer & { dataDir: string }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "sy-admin-"));
  const configFile = path.join(dataDir, "switchyard.config.yaml");
  writeFileSync(configFile, `${LAB_CONFIG}${extraConfig}`);
  const server = await startServer({
    port: 0,
    host: "127.0.0.1",
    dataDir,
    configFile,
    inMemoryDatabase: true,
    logger: pino({ level: process.env.SY_TEST_LOG ?? "silent" }),
    env: { SWITCHYARD_ADMIN_PASSWORD: ADMIN_PASSWORD },
  });
  return Object.assign(server, { dataDir });
}

/** Sign in on the dashboard's own form and wait for the signed-in shell. */
export async function signIn(page: Page, baseUrl: string, username: string, password: string, path = "/admin") {
  await page.goto(`${baseUrl}${path}`);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByTestId("username").waitFor();
}
