import type { RunningServer } from "@switchyard/server";
import type { Locator, Page } from "playwright-core";
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

/**
 * Appended to the lab config: a model as big as the rotating node (so it waits in the queue while
 * anything else holds a GPU there), a hot model slow enough to catch a batch running (15
 * tokens/s, two at a time), and a 1 s hold so a cold model's 503 comes back quickly.
 */
const EXTRA_CONFIG = `
  - id: lab/big
    cluster: lab
    framework: vllm
    capabilities: [chat, batch]
    placement: dynamic
    gpus: 8
    engine: { type: simulator, loadTime: 200ms, profile: fast }
  - id: lab/slow-chat
    cluster: lab
    framework: vllm
    capabilities: [chat, batch]
    placement: hot
    node: lab-hot-1
    engine: { type: simulator, loadTime: 200ms, timeToFirstToken: 100ms, tokensPerSecond: 15, maxConcurrency: 2 }
gateway:
  holdSeconds: 1
`;

const DESKTOP = { width: 1440, height: 900 };
const PHONE = { width: 390, height: 844 };

/** A batch input file of `lines` chat requests to `model`. */
function jsonl(model: string, lines: number): string {
  return Array.from({ length: lines }, (_, i) =>
    JSON.stringify({
      custom_id: `q-${i}`,
      method: "POST",
      url: "/v1/chat/completions",
      body: { model, messages: [{ role: "user", content: `question ${i}` }], max_tokens: 8 },
    }),
  ).join("\n");
}

/** The Models and Batches pages at desktop and phone widths: legend, actions per state, the compact list, rate/ETA, upload. */
describe.skipIf(!enabled)("the models and batches pages in a browser", () => {
  let server: RunningServer;
  let browser: Browser;
  let token: string;
  /** Console errors and uncaught exceptions of every page opened (the test that expects some takes them out). */
  const consoleErrors: string[] = [];

  const api = async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`${server.url}${route}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined || body instanceof FormData ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: body instanceof FormData ? body : JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as any };
  };

  async function createBatch(content: string): Promise<{ id: string; status: string }> {
    const form = new FormData();
    form.append("purpose", "batch");
    form.append("file", new Blob([content], { type: "application/jsonl" }), "input.jsonl");
    const file = await api("POST", "/v1/files", form);
    expect(file.status).toBe(200);
    const batch = await api("POST", "/v1/batches", {
      input_file_id: file.json.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    });
    expect(batch.status).toBe(200);
    return batch.json;
  }

  async function waitForBatch(id: string, statuses: string[], timeoutMs = 30_000) {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const { json } = await api("GET", `/v1/batches/${id}`);
      if (statuses.includes(json.status)) return json;
      if (Date.now() > until) throw new Error(`batch ${id} is ${json.status}, not ${statuses.join("/")}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function open(viewport: { width: number; height: number }, path: string): Promise<Page> {
    const page = await browser.page(viewport);
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(`${page.url()}: ${m.text()}`);
    });
    page.on("pageerror", (e) => consoleErrors.push(`${page.url()}: ${e.message}`));
    await signIn(page, server.url, "admin", ADMIN_PASSWORD, path);
    return page;
  }

  const overflow = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  const buttonNames = async (scope: Locator) => (await scope.getByRole("button").allTextContents()).sort();

  beforeAll(async () => {
    [server, browser] = await Promise.all([startLabServer(EXTRA_CONFIG), launchBrowser()]);
    const res = await fetch(`${server.url}/auth/token`, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "password", username: "admin", password: ADMIN_PASSWORD }),
    });
    token = ((await res.json()) as { access_token: string }).access_token;
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("explains B/T/R in a legend, keeps a live model's actions on one line, and offers no Drain for a queued one", async () => {
    const page = await open(DESKTOP, "/admin/models");
    const legend = page.getByTestId("marks-legend");
    await legend.waitFor();
    expect(await legend.textContent()).toMatch(/B\s*batch.*T\s*tool calling.*R\s*reasoning/);

    // A live model: Stop, Restart, Drain, Pin, side by side on one line.
    const hot = page.locator('tr[data-model="lab/hot-chat"]');
    await hot.locator('[data-status="live"]').waitFor({ timeout: 20_000 });
    const actions = hot.getByTestId("model-actions");
    await actions.getByRole("button", { name: "Drain", exact: true }).waitFor();
    expect(await buttonNames(actions)).toEqual(["Drain", "Pin", "Restart", "Stop"]);
    const tops = await actions
      .getByRole("button")
      .evaluateAll((buttons) => buttons.map((b) => Math.round(b.getBoundingClientRect().top)));
    expect(new Set(tops).size).toBe(1);
    expect(await overflow(page)).toBeLessThanOrEqual(0);
    // An offline model: Start and Pin only.
    expect(await buttonNames(page.locator('tr[data-model="lab/dynamic-chat"]').getByTestId("model-actions"))).toEqual([
      "Pin",
      "Start",
    ]);
    await screenshot(page, "models-legend-actions");

    // lab/big needs the rotating node's 8 GPUs: with lab/embed pinned there, it waits in the queue.
    const embed = page.locator('tr[data-model="lab/embed"]');
    await embed.getByRole("button", { name: "Start", exact: true }).click();
    await embed.locator('[data-status="live"]').waitFor({ timeout: 20_000 });
    await embed.getByRole("button", { name: "Pin", exact: true }).click();
    await embed.getByText("pinned").waitFor();
    const big = page.locator('tr[data-model="lab/big"]');
    await big.getByRole("button", { name: "Start", exact: true }).click();
    await big.locator('[data-status="queued"]').waitFor({ timeout: 10_000 });
    const bigActions = big.getByTestId("model-actions");
    await bigActions.getByRole("button", { name: "Cancel", exact: true }).waitFor();
    expect(await buttonNames(bigActions)).toEqual(["Cancel", "Pin"]);
    await screenshot(page, "models-queued");
    // Cancel takes it out of the queue.
    await bigActions.getByRole("button", { name: "Cancel", exact: true }).click();
    await bigActions.getByRole("button", { name: "Confirm cancel", exact: true }).click();
    await big.locator('[data-status="offline"]').waitFor({ timeout: 10_000 });
    await page.close();
  });

  it("shows the models as a compact list on a phone, each model's details on a tap", async () => {
    const page = await open(PHONE, "/admin/models");
    const hot = page.locator('tr[data-model="lab/hot-chat"]');
    await hot.locator('[data-status="live"]').waitFor({ timeout: 20_000 });
    await page.getByTestId("marks-legend").waitFor();
    // One line each: name, status, replicas; no capabilities, placement or buttons until tapped.
    const heights = await page
      .locator("tr[data-model]")
      .evaluateAll((rows) => rows.map((r) => Math.round(r.getBoundingClientRect().height)));
    expect(heights.length).toBe(5);
    for (const h of heights) expect(h).toBeLessThan(60);
    expect(await hot.locator(".replicas-short").textContent()).toBe("1/3");
    expect(await hot.getByTestId("model-actions").isVisible()).toBe(false);
    expect(await hot.locator('td[data-label="Capabilities"]').isVisible()).toBe(false);
    expect(await page.evaluate(() => document.documentElement.scrollHeight)).toBeLessThan(1200);
    expect(await overflow(page)).toBeLessThanOrEqual(0);
    await screenshot(page, "phone-models-compact");

    await hot.getByRole("button", { name: "lab/hot-chat", exact: true }).click();
    await hot.getByTestId("model-actions").waitFor();
    expect(await hot.locator('td[data-label="Capabilities"]').isVisible()).toBe(true);
    expect(await hot.locator('td[data-label="Where"]').textContent()).toContain("1/3 replicas");
    await page.getByRole("heading", { name: "Transitions of lab/hot-chat" }).waitFor();
    expect(await overflow(page)).toBeLessThanOrEqual(0);
    await screenshot(page, "phone-models-expanded");
    // A second tap folds it again.
    await hot.getByRole("button", { name: "lab/hot-chat", exact: true }).click();
    await hot.getByTestId("model-actions").waitFor({ state: "hidden" });
    await page.close();
  });

  it("refuses a batch on the upload form before uploading anything, with the reason inline", async () => {
    const page = await open(DESKTOP, "/admin/batches");
    await page.getByText("New batch from a JSONL file").click();
    const form = page.getByRole("form", { name: "New batch" });
    const before = (await api("GET", "/v1/files")).json.data.length;

    // Not a batch file at all: said as soon as it is picked.
    await form.getByLabel("Input file (JSONL)").setInputFiles({
      name: "notes.csv",
      mimeType: "text/csv",
      buffer: Buffer.from("a,b\n1,2\n"),
    });
    const error = page.getByTestId("batch-upload-error");
    await error.waitFor();
    expect(await error.textContent()).toMatch(/notes\.csv is not a batch input file/);

    // A model without the batch capability: the server's precheck refuses it, nothing is uploaded.
    await form.getByLabel("Input file (JSONL)").setInputFiles({
      name: "questions.jsonl",
      mimeType: "application/jsonl",
      buffer: Buffer.from(jsonl("lab/dynamic-chat", 2)),
    });
    await error.waitFor({ state: "hidden" });
    expect(await form.getByLabel("Model").locator("option").first().textContent()).toBe(
      "As in the file (lab/dynamic-chat)",
    );
    await form.getByRole("button", { name: "Create batch", exact: true }).click();
    await error.waitFor();
    expect(await error.textContent()).toMatch(/lab\/dynamic-chat.*does not support batches/);
    expect((await api("GET", "/v1/files")).json.data.length).toBe(before);
    await screenshot(page, "batches-upload-refused");
    // The refusal's 4xx is the one console error expected here (Chromium logs failed requests).
    const expected = consoleErrors.filter((e) => /status of 4\d\d/.test(e));
    expect(expected.length).toBeLessThanOrEqual(1);
    for (const e of expected) consoleErrors.splice(consoleErrors.indexOf(e), 1);
    await page.close();

    // The form fits a phone, its fields one under another.
    const phone = await open(PHONE, "/admin/batches");
    await phone.getByText("New batch from a JSONL file").click();
    const phoneForm = phone.getByRole("form", { name: "New batch" });
    await phoneForm.getByLabel("Input file (JSONL)").setInputFiles({
      name: "questions.jsonl",
      mimeType: "application/jsonl",
      buffer: Buffer.from(jsonl("lab/hot-chat", 2)),
    });
    await phoneForm.getByLabel("Model").locator("option", { hasText: "As in the file (lab/hot-chat)" }).waitFor({
      state: "attached",
    });
    expect(await overflow(phone)).toBeLessThanOrEqual(0);
    await screenshot(phone, "phone-batches-upload");
    await phone.close();
  });

  it("creates a batch from the upload form, lists it, and shows its duration once done", async () => {
    const page = await open(DESKTOP, "/admin/batches");
    await page.getByText("New batch from a JSONL file").click();
    const form = page.getByRole("form", { name: "New batch" });
    await form.getByLabel("Input file (JSONL)").setInputFiles({
      name: "questions.jsonl",
      mimeType: "application/jsonl",
      buffer: Buffer.from(jsonl("lab/dynamic-chat", 3)),
    });
    // Choosing a model sets it on every line (the file names one without the batch capability).
    await form.getByLabel("Model").selectOption("lab/hot-chat");
    expect(await form.getByLabel("Completion window").inputValue()).toBe("24h");
    await form.getByRole("button", { name: "Create batch", exact: true }).click();
    const created = page.getByRole("status").filter({ hasText: /^Created batch_/ });
    await created.waitFor({ timeout: 15_000 });
    const id = /(batch_[A-Za-z0-9]+)/.exec((await created.textContent()) ?? "")?.[1] as string;
    expect(await created.textContent()).toContain("for lab/hot-chat from questions.jsonl");
    const row = page.locator(`tr[data-batch="${id}"]`);
    await row.waitFor();
    expect(await row.getByTestId("batch-model").textContent()).toBe("lab/hot-chat");
    await row.locator('[data-status="completed"]').waitFor({ timeout: 30_000 });
    expect(await row.getByTestId("batch-counts").textContent()).toMatch(/^3 \/ 3/);
    expect(await row.getByTestId("batch-duration").textContent()).toMatch(/^took \d+ s$/);
    const done = await waitForBatch(id, ["completed"], 1000);
    expect(done.model).toBe("lab/hot-chat");
    await screenshot(page, "batches-uploaded");
    await page.close();
  });

  it("shows a running batch's rate and ETA, and why a failed one failed when its model is unknown", async () => {
    // A file with no request in it fails its check before any model is read.
    const broken = await createBatch("this is not json\n{also not}\n");
    const failed = await waitForBatch(broken.id, ["failed"]);
    expect(failed.model).toBe("");
    const long = await createBatch(jsonl("lab/slow-chat", 300));
    await waitForBatch(long.id, ["in_progress"]);

    const page = await open(DESKTOP, "/admin/batches");
    const failedRow = page.locator(`tr[data-batch="${broken.id}"]`);
    await failedRow.waitFor();
    expect(await failedRow.getByTestId("batch-failure").textContent()).toMatch(
      /^failed before its model was read: line 1: /,
    );
    expect(await failedRow.textContent()).not.toContain("model not known yet");

    const row = page.locator(`tr[data-batch="${long.id}"]`);
    // The rate is measured between two polls after the first answer; then the ETA follows from it.
    await row.getByTestId("batch-eta").waitFor({ timeout: 20_000 });
    expect(await row.getByTestId("batch-rate").textContent()).toMatch(/^\d+(\.\d)? lines\/s$/);
    expect(await row.getByTestId("batch-eta").textContent()).toMatch(/^about \d+ (s|min) left$/);
    await screenshot(page, "batches-rate-eta");

    // On a phone: no empty labelled cells (a batch without actions has no "Actions" label).
    const phone = await open(PHONE, "/admin/batches");
    await phone.locator(`tr[data-batch="${long.id}"]`).getByTestId("batch-eta").waitFor({ timeout: 20_000 });
    const empty = await phone
      .locator("tr[data-batch] td")
      .evaluateAll((cells) =>
        cells
          .filter((c) => (c as HTMLElement).offsetParent !== null && !c.textContent?.trim())
          .map((c) => c.getAttribute("data-label")),
      );
    expect(empty).toEqual([]);
    expect(await phone.locator(`tr[data-batch="${broken.id}"] td[data-label="Actions"]`).count()).toBe(0);
    expect(await overflow(phone)).toBeLessThanOrEqual(0);
    await screenshot(phone, "phone-batches-cards");
    await phone.close();

    // Cancelled, it shows how long it ran.
    await row.getByRole("button", { name: "Cancel", exact: true }).click();
    await row.getByRole("button", { name: "Confirm cancel", exact: true }).click();
    await row.locator('[data-status="cancelled"]').waitFor({ timeout: 20_000 });
    expect(await row.getByTestId("batch-duration").textContent()).toMatch(/^took \d+ s$/);
    await page.close();
  });

  it("met no console error and no Content-Security-Policy violation on any page it opened", () => {
    expect(consoleErrors).toEqual([]);
    expect(browser.cspViolations).toEqual([]);
  });
});
