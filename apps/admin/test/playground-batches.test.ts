import { readFileSync } from "node:fs";
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

/**
 * Appended to the lab config: a hot model slow enough to watch it stream and to catch a batch
 * still running (15 tokens/s), and a 1 s hold so a cold model's 503 comes back quickly.
 */
const EXTRA_CONFIG = `
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

interface Batch {
  id: string;
  status: string;
  request_counts: { total: number; completed: number; failed: number };
  output_file_id: string | null;
}

/** The playground (streamed chat, stop, a cold model) and the batches page (progress, cancel, download). */
describe.skipIf(!enabled)("the playground and the batches page in a browser", () => {
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let token: string;

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

  /** An OpenAI batch of `lines` chat requests to `model`, created over HTTP as the admin. */
  async function createBatch(model: string, lines: number): Promise<Batch> {
    const content = Array.from({ length: lines }, (_, i) =>
      JSON.stringify({
        custom_id: `q-${i}`,
        method: "POST",
        url: "/v1/chat/completions",
        body: { model, messages: [{ role: "user", content: `question ${i}` }], max_tokens: 8 },
      }),
    ).join("\n");
    const form = new FormData();
    form.append("purpose", "batch");
    form.append("file", new Blob([content], { type: "application/jsonl" }), "questions.jsonl");
    const file = await api("POST", "/v1/files", form);
    expect(file.status).toBe(200);
    const batch = await api("POST", "/v1/batches", {
      input_file_id: file.json.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    });
    expect(batch.status).toBe(200);
    return batch.json as Batch;
  }

  async function waitForBatch(id: string, statuses: string[], timeoutMs = 30_000): Promise<Batch> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const { json } = await api("GET", `/v1/batches/${id}`);
      if (statuses.includes(json.status)) return json as Batch;
      if (Date.now() > until) throw new Error(`batch ${id} is ${json.status}, not ${statuses.join("/")}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** What the same conversation gets without streaming: the simulator answers a prompt the same way every time. */
  async function expectedAnswer(model: string, messages: { role: string; content: string }[]): Promise<string> {
    const { status, json } = await api("POST", "/v1/chat/completions", { model, messages });
    expect(status).toBe(200);
    return json.choices[0].message.content as string;
  }

  const assistantTexts = () => page.getByTestId("assistant-text").allTextContents();
  const lastTurnDone = () => page.getByTestId("chat-turn").last().getAttribute("data-done");

  beforeAll(async () => {
    [server, browser] = await Promise.all([startLabServer(EXTRA_CONFIG), launchBrowser()]);
    const res = await fetch(`${server.url}/auth/token`, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "password", username: "admin", password: ADMIN_PASSWORD }),
    });
    token = ((await res.json()) as { access_token: string }).access_token;
    page = await browser.page();
    await signIn(page, server.url, "admin", ADMIN_PASSWORD, "/admin/playground");
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("streams a chat answer as it is generated, keeps the conversation, and stops on request", async () => {
    const picker = page.getByLabel("Model", { exact: true });
    await picker.locator('option[value="lab/slow-chat"]').waitFor({ state: "attached" });
    await expect
      .poll(() => picker.locator('option[value="lab/slow-chat"]').textContent(), { timeout: 30_000 })
      .toMatch(/Live$/);
    await picker.selectOption("lab/slow-chat");

    await page.getByLabel("Message", { exact: true }).fill("What is a switchyard?");
    await page.getByRole("button", { name: "Send", exact: true }).click();
    // Sample the answer while it streams: it must be seen growing, not appear at once.
    const lengths = new Set<number>();
    while ((await lastTurnDone()) !== "true") {
      const [text] = await assistantTexts();
      if (text) lengths.add(text.length);
      await new Promise((r) => setTimeout(r, 50));
    }
    const [first] = await assistantTexts();
    expect(lengths.size, `lengths seen: ${[...lengths].join(", ")}`).toBeGreaterThanOrEqual(3);
    expect(first).toMatch(/^[A-Z][a-z]+[A-Za-z ,.]*\.$/); // the simulator's lorem sentences
    const history = [{ role: "user", content: "What is a switchyard?" }];
    expect(first).toBe(await expectedAnswer("lab/slow-chat", history));

    // A second turn carries the first: the same conversation without streaming gets the same answer.
    await page.getByLabel("Message", { exact: true }).fill("Tell me more.");
    await page.getByLabel("Message", { exact: true }).press("Enter");
    await expect.poll(lastTurnDone, { timeout: 15_000 }).toBe("true");
    const [, second] = await assistantTexts();
    expect(second).toBe(
      await expectedAnswer("lab/slow-chat", [
        ...history,
        { role: "assistant", content: first as string },
        { role: "user", content: "Tell me more." },
      ]),
    );
    expect(await page.getByTestId("chat-turn").count()).toBe(4);
    await screenshot(page, "playground");

    // Stop: the answer ends where it was, and the form is ready for the next message.
    await page.getByLabel("Message", { exact: true }).fill("And one more thing, at length.");
    await page.getByRole("button", { name: "Send", exact: true }).click();
    await expect.poll(async () => (await assistantTexts())[2]?.length ?? 0, { timeout: 10_000 }).toBeGreaterThan(0);
    await page.getByRole("button", { name: "Stop", exact: true }).click();
    await page.getByText("Stopped.").waitFor();
    await page.getByRole("button", { name: "Send", exact: true }).waitFor();
    const stopped = (await assistantTexts())[2] ?? "";
    await new Promise((r) => setTimeout(r, 500));
    expect((await assistantTexts())[2]).toBe(stopped);
  });

  it("shows a cold model's state while it starts, then streams once it is live", async () => {
    await page.getByRole("button", { name: "New chat", exact: true }).click();
    const picker = page.getByLabel("Model", { exact: true });
    await expect
      .poll(() => picker.locator('option[value="lab/dynamic-chat"]').textContent(), { timeout: 5_000 })
      .toMatch(/Offline$/);
    await picker.selectOption("lab/dynamic-chat");
    await page.getByLabel("Message", { exact: true }).fill("Are you awake?");
    await page.getByRole("button", { name: "Send", exact: true }).click();
    // The gateway holds the request 1 s, then answers 503 model_not_ready; the page says what the model does.
    const waiting = page.getByTestId("model-waiting");
    await waiting.waitFor();
    expect(await page.getByTestId("model-waiting-text").textContent()).toMatch(/^(Starting|Queued)/);
    expect(await waiting.textContent()).toMatch(/trying again/);
    await screenshot(page, "playground-cold-model");
    await expect.poll(lastTurnDone, { timeout: 30_000 }).toBe("true");
    expect(await waiting.count()).toBe(0);
    const [answer] = await assistantTexts();
    expect(answer).toBe(await expectedAnswer("lab/dynamic-chat", [{ role: "user", content: "Are you awake?" }]));
    await expect
      .poll(() => picker.locator('option[value="lab/dynamic-chat"]').textContent(), { timeout: 10_000 })
      .toMatch(/Live$/);
  });

  it("shows batches with progress, cancels a running one, and downloads results", async () => {
    // A small batch that completes (one active batch per user: it goes first), then a long one.
    const small = await createBatch("lab/hot-chat", 3);
    const done = await waitForBatch(small.id, ["completed"]);
    expect(done.output_file_id).not.toBeNull();
    const long = await createBatch("lab/slow-chat", 300);
    await waitForBatch(long.id, ["in_progress"]);

    await page.getByRole("link", { name: "Batches", exact: true }).click();
    const row = page.locator(`tr[data-batch="${long.id}"]`);
    await row.locator('[data-status="in_progress"]').waitFor();
    // The progress bar moves without a reload (the page polls while a batch runs).
    const progress = row.getByRole("progressbar");
    await expect
      .poll(async () => Number(await progress.getAttribute("aria-valuenow")), { timeout: 15_000 })
      .toBeGreaterThan(0);
    expect(await row.getByTestId("batch-counts").textContent()).toMatch(/^\d+ \/ 300/);
    await screenshot(page, "batches");

    await row.getByRole("button", { name: "Cancel", exact: true }).click();
    await row.getByRole("button", { name: "Confirm cancel", exact: true }).click();
    await row.locator('[data-status="cancelled"]').waitFor({ timeout: 20_000 });
    expect(await row.getByRole("button", { name: "Cancel", exact: true }).count()).toBe(0);
    const cancelled = await waitForBatch(long.id, ["cancelled"], 1000);
    expect(cancelled.request_counts.completed).toBeLessThan(300);
    const audit = await fetch(`${server.url}/trpc/audit.list?input=${encodeURIComponent('{"action":"batches"}')}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(JSON.stringify(await audit.json())).toContain(long.id);
    await screenshot(page, "batches-cancelled");

    // Results come through the files API with the session's token, saved from a Blob URL.
    const smallRow = page.locator(`tr[data-batch="${small.id}"]`);
    const [file] = await Promise.all([
      page.waitForEvent("download"),
      smallRow.getByRole("button", { name: "Download results", exact: true }).click(),
    ]);
    expect(file.suggestedFilename()).toBe(`${small.id}_output.jsonl`);
    const lines = readFileSync((await file.path()) as string, "utf8")
      .trim()
      .split("\n");
    expect(lines.map((l) => JSON.parse(l).custom_id)).toEqual(["q-0", "q-1", "q-2"]);
  });

  it("fits a phone: the playground and the batches page without horizontal scrolling", async () => {
    const phone = await browser.page({ width: 390, height: 844 });
    await signIn(phone, server.url, "admin", ADMIN_PASSWORD, "/admin/batches");
    await phone.locator("tr[data-batch]").first().waitFor();
    expect(await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
    await screenshot(phone, "phone-batches");
    await phone.goto(`${server.url}/admin/playground`);
    await phone.getByLabel("Model", { exact: true }).waitFor();
    expect(await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
    await screenshot(phone, "phone-playground");
    await phone.close();
  });

  it("met no Content-Security-Policy violation on any page it opened", () => {
    expect(browser.cspViolations).toEqual([]);
  });
});
