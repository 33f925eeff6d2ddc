import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { crc32, deflateSync } from "node:zlib";
import type { RunningServer } from "@switchyard/server";
import type { Page, Request } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ADMIN_PASSWORD,
  type Browser,
  chromiumAvailable,
  launchBrowser,
  RESULTS_DIR,
  screenshot,
  signIn,
  startLabServer,
} from "./browser";

const enabled = chromiumAvailable();
/** Asynchronous: the server under test runs in this process and must go on answering meanwhile. */
const run = async (file: string, args: string[], env: NodeJS.ProcessEnv) =>
  (await promisify(execFile)(file, args, { env, encoding: "utf8", timeout: 60_000 })).stdout;

/** A hot model that reasons and sees, slow enough (20 tokens/s) to watch its reasoning arrive. */
const EXTRA_CONFIG = `
  - id: lab/hot-reasoner
    cluster: lab
    framework: vllm
    capabilities: [chat, reasoning, vision]
    placement: hot
    node: lab-hot-1
    engine: { type: simulator, loadTime: 200ms, timeToFirstToken: 100ms, tokensPerSecond: 20, maxConcurrency: 2 }
`;

/** A small PNG (a 48x32 two-colour block) written here, so the test needs no file of its own. */
function png(): Buffer {
  const width = 48;
  const height = 32;
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bits per channel
  header[9] = 2; // RGB
  const rows: number[] = [];
  for (let y = 0; y < height; y++) {
    rows.push(0);
    for (let x = 0; x < width; x++) rows.push(...(x < width / 2 ? [31, 111, 235] : [26, 127, 55]));
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(Buffer.from(rows))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** A streamed answer as the API sends it, for answers the simulator cannot write (markdown, HTML). */
function sse(pieces: string[]): string {
  const chunk = (delta: unknown, finish: string | null) =>
    `data: ${JSON.stringify({
      id: "chatcmpl-test",
      object: "chat.completion.chunk",
      created: 0,
      model: "lab/hot-chat",
      choices: [{ index: 0, delta, finish_reason: finish }],
    })}\n\n`;
  return [
    chunk({ role: "assistant", content: "" }, null),
    ...pieces.map((p) => chunk({ content: p }, null)),
    chunk({}, "stop"),
    "data: [DONE]\n\n",
  ].join("");
}

const MARKDOWN_ANSWER = [
  "## Steps\n\n",
  "1. Install it with **pnpm**\n2. Run `sy login`\n\n",
  "```python\nprint('hello')\nfor i in range(3):\n    print(i)\n```\n\n",
  'Raw HTML stays text: <img src=x onerror="window.__xss = 1"> and ',
  "<script>window.__xss = 2</script>\n\n",
  '<div onclick="window.__xss = 3">a block of HTML</div>\n\n',
  "A [bad link](javascript:window.__xss=4) and a [good one](https://example.org/docs).",
];

/** The Playground's additions: system prompt, parameters, markdown, reasoning, images, Copy as. */
describe.skipIf(!enabled)("the playground's prompt, parameters, rendering, images and code", () => {
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let token: string;
  const consoleErrors: string[] = [];

  const chatRequest = (req: Request) => new URL(req.url()).pathname === "/v1/chat/completions";
  const lastTurnDone = () => page.getByTestId("chat-turn").last().getAttribute("data-done");
  const lastAnswer = () => page.getByTestId("assistant-text").last();

  async function complete(body: Record<string, unknown>) {
    const res = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as any).choices[0].message as { content: string; reasoning_content?: string | null };
  }

  async function pickModel(id: string) {
    const picker = page.getByLabel("Model", { exact: true });
    await expect
      .poll(() => picker.locator(`option[value="${id}"]`).textContent(), { timeout: 30_000 })
      .toMatch(/Live$/);
    await picker.selectOption(id);
  }

  /** Send `text` and return the request body the page sent. */
  async function send(text: string): Promise<any> {
    await page.getByLabel("Message", { exact: true }).fill(text);
    const [request] = await Promise.all([
      page.waitForRequest(chatRequest),
      page.getByRole("button", { name: "Send", exact: true }).click(),
    ]);
    return request.postDataJSON();
  }

  const clipboard = () => page.evaluate(() => navigator.clipboard.readText());

  beforeAll(async () => {
    [server, browser] = await Promise.all([startLabServer(EXTRA_CONFIG), launchBrowser()]);
    await browser.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
    const res = await fetch(`${server.url}/auth/token`, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "password", username: "admin", password: ADMIN_PASSWORD }),
    });
    token = ((await res.json()) as { access_token: string }).access_token;
    page = await browser.page({ width: 1440, height: 900 });
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
    await signIn(page, server.url, "admin", ADMIN_PASSWORD, "/admin/playground");
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("checks the parameters inline, and sends them with the system prompt", async () => {
    await pickModel("lab/hot-chat");
    await page.getByText("System prompt", { exact: true }).click();
    await page.getByLabel("System prompt", { exact: true }).fill("Answer in one short sentence.");
    await page.getByText("Parameters", { exact: true }).click();

    const sendButton = page.getByRole("button", { name: "Send", exact: true });
    await page.getByLabel("Message", { exact: true }).fill("Hello there");
    // Out of range or not a number: the field says why and nothing can be sent.
    await page.getByLabel("Temperature").fill("2.5");
    await page.getByLabel("Max tokens").fill("0");
    await page.getByLabel("Top P").fill("abc");
    await expect
      .poll(() => page.locator(".field-error").allTextContents())
      .toEqual(
        expect.arrayContaining([
          "Temperature is a number from 0 to 2.",
          "Max tokens is a whole number, 1 or more.",
          "Top P is a number above 0, up to 1.",
        ]),
      );
    expect(await page.getByLabel("Temperature").getAttribute("aria-invalid")).toBe("true");
    expect(await sendButton.isDisabled()).toBe(true);
    await screenshot(page, "playground-parameters-invalid");

    await page.getByLabel("Temperature").fill("0.4");
    await page.getByLabel("Max tokens").fill("12");
    await page.getByLabel("Top P").fill("0.9");
    await page.getByLabel("Stop sequences").fill("\\,, amen");
    expect(await page.locator(".field-error").count()).toBe(0);
    const body = await (async () => {
      const [request] = await Promise.all([page.waitForRequest(chatRequest), sendButton.click()]);
      return request.postDataJSON();
    })();
    const messages = [
      { role: "system", content: "Answer in one short sentence." },
      { role: "user", content: "Hello there" },
    ];
    expect(body).toMatchObject({ model: "lab/hot-chat", messages, temperature: 0.4, max_tokens: 12, top_p: 0.9 });
    expect(body.stop).toEqual([",", "amen"]);
    await expect.poll(lastTurnDone, { timeout: 15_000 }).toBe("true");
    // The same request without streaming gets the same answer: the parameters reached the model.
    const expected = await complete({ ...body, stream: false });
    expect(await lastAnswer().textContent()).toBe(expected.content);
    expect(expected.content).not.toContain(",");
    await screenshot(page, "playground-parameters");
  });

  it("renders answers as markdown, code blocks with Copy, and never the model's HTML", async () => {
    await page.getByRole("button", { name: "New chat", exact: true }).click();
    await page.route("**/v1/chat/completions", (route) =>
      route.fulfill({ status: 200, contentType: "text/event-stream", body: sse(MARKDOWN_ANSWER) }),
    );
    try {
      await send("Show me markdown");
      await expect.poll(lastTurnDone, { timeout: 10_000 }).toBe("true");
    } finally {
      await page.unroute("**/v1/chat/completions");
    }
    const answer = lastAnswer();
    expect(await answer.locator("h2").textContent()).toBe("Steps");
    expect(await answer.locator("ol > li").count()).toBe(2);
    expect(await answer.locator("strong").textContent()).toBe("pnpm");
    expect(await answer.locator("li code").textContent()).toBe("sy login");
    const code = "print('hello')\nfor i in range(3):\n    print(i)";
    expect(await answer.locator("pre code").textContent()).toBe(code);
    expect(await answer.locator(".md-code-lang").textContent()).toBe("python");

    // The model's HTML is shown as the text it is: no element, no handler, nothing ran.
    expect(await answer.locator("img, script, div[onclick], [onerror]").count()).toBe(0);
    const text = (await answer.textContent()) ?? "";
    expect(text).toContain('<img src=x onerror="window.__xss = 1">');
    expect(text).toContain("<script>window.__xss = 2</script>");
    expect(text).toContain('<div onclick="window.__xss = 3">a block of HTML</div>');
    const links = answer.locator("a");
    expect(await links.count()).toBe(2);
    expect(await links.nth(0).getAttribute("href")).toBeNull(); // javascript: removed
    expect(await links.nth(1).getAttribute("href")).toBe("https://example.org/docs");
    expect(await links.nth(1).getAttribute("rel")).toBe("noopener noreferrer");
    await links.nth(0).click();
    expect(await page.evaluate(() => (window as { __xss?: unknown }).__xss)).toBeUndefined();

    await answer.getByRole("button", { name: "Copy", exact: true }).click();
    await answer.getByRole("button", { name: "Copied", exact: true }).waitFor();
    expect(await clipboard()).toBe(code);
    await screenshot(page, "playground-markdown");
  });

  it("streams a reasoning model's thinking into a folded block above the answer", async () => {
    await page.getByRole("button", { name: "New chat", exact: true }).click();
    await pickModel("lab/hot-reasoner");
    // The first case's limits would cut the thinking short: back to the model's defaults.
    await page.getByLabel("Max tokens").fill("");
    await page.getByLabel("Stop sequences").fill("");
    const body = await send("Think it over: why is the sky blue?");
    const block = page.getByTestId("reasoning").last();
    await block.waitFor();
    // Folded at first, marked as still thinking; opened, it is seen growing as tokens arrive.
    expect(await block.evaluate((d) => (d as HTMLDetailsElement).open)).toBe(false);
    expect(await block.locator("summary").textContent()).toBe("Reasoning…");
    await block.locator("summary").click();
    const lengths = new Set<number>();
    while (!(await lastAnswer().textContent()) && (await lastTurnDone()) !== "true") {
      lengths.add(((await block.getByTestId("reasoning-text").textContent()) ?? "").length);
      await new Promise((r) => setTimeout(r, 40));
    }
    expect(lengths.size, `lengths seen: ${[...lengths].join(", ")}`).toBeGreaterThanOrEqual(3);
    await expect.poll(lastTurnDone, { timeout: 15_000 }).toBe("true");
    expect(await block.locator("summary").textContent()).toBe("Reasoning");
    const expected = await complete({ ...body, stream: false });
    expect(await block.getByTestId("reasoning-text").textContent()).toBe(expected.reasoning_content);
    expect(await lastAnswer().textContent()).toBe(expected.content);
    await screenshot(page, "playground-reasoning");
  });

  it("attaches images for a vision model only, previews them, and sends them as data URLs", async () => {
    await page.getByRole("button", { name: "New chat", exact: true }).click();
    await pickModel("lab/hot-chat");
    expect(await page.getByText("Attach image", { exact: true }).count()).toBe(0);
    await pickModel("lab/hot-reasoner");
    const picker = page.locator('input[type="file"]');
    const image = png();
    await picker.setInputFiles({ name: "blocks.png", mimeType: "image/png", buffer: image });
    const preview = page.getByTestId("attachments").getByRole("img", { name: "Preview of blocks.png" });
    await preview.waitFor();
    expect(await preview.evaluate((img) => (img as HTMLImageElement).naturalWidth)).toBe(48);
    await screenshot(page, "playground-image-attached");

    const body = await send("What is in this picture?");
    const url = `data:image/png;base64,${image.toString("base64")}`;
    expect(body.messages.at(-1)).toEqual({
      role: "user",
      content: [
        { type: "text", text: "What is in this picture?" },
        { type: "image_url", image_url: { url } },
      ],
    });
    await expect.poll(lastTurnDone, { timeout: 15_000 }).toBe("true");
    expect(await page.getByTestId("assistant-text").last().textContent()).toBe(
      (await complete({ ...body, stream: false })).content,
    );
    // The sent message keeps its image; the form is empty again.
    const sent = page.getByTestId("chat-turn").first().getByRole("img", { name: "Attachment 1" });
    expect(await sent.evaluate((img) => (img as HTMLImageElement).naturalWidth)).toBe(48);
    expect(await page.getByTestId("attachments").count()).toBe(0);
    await screenshot(page, "playground-image-sent");
  });

  it("copies the conversation as curl, Python and TypeScript that run against this server", async () => {
    await page.getByRole("button", { name: "New chat", exact: true }).click();
    await pickModel("lab/hot-chat");
    await page.getByLabel("Max tokens").fill("12");
    await page.getByLabel("System prompt", { exact: true }).fill("You're terse; say \"it's\" with quotes.");
    await send("First question");
    await expect.poll(lastTurnDone, { timeout: 15_000 }).toBe("true");
    await page.getByLabel("Message", { exact: true }).fill("And a follow-up with 'quotes'\nand a new line");
    await page.getByRole("button", { name: "Copy as code", exact: true }).click();
    const panel = page.getByTestId("copy-as");
    const expectedBody = {
      model: "lab/hot-chat",
      messages: [
        { role: "system", content: "You're terse; say \"it's\" with quotes." },
        { role: "user", content: "First question" },
        { role: "assistant", content: (await lastAnswer().textContent()) as string },
        { role: "user", content: "And a follow-up with 'quotes'\nand a new line" },
      ],
      temperature: 0.4,
      max_tokens: 12,
      top_p: 0.9,
    };
    const expected = (await complete(expectedBody)).content;
    const dir = mkdtempSync(path.join(tmpdir(), "sy-snippets-"));
    const sessionToken = await page.evaluate(() => JSON.stringify(sessionStorage));

    const copied: Record<string, string> = {};
    for (const language of ["curl", "Python", "TypeScript"]) {
      await panel.getByRole("button", { name: language, exact: true }).click();
      await panel.getByRole("button", { name: "Copy", exact: true }).click();
      await panel.getByRole("button", { name: "Copied", exact: true }).waitFor();
      const code = await clipboard();
      expect(code).toBe(await panel.getByTestId("snippet").textContent());
      expect(code).toContain(`${server.url}/v1`);
      expect(code).toContain("SWITCHYARD_API_KEY");
      expect(code).not.toContain(token);
      for (const value of Object.values(JSON.parse(sessionToken) as Record<string, string>)) {
        if (value.length > 20) expect(code).not.toContain(value);
      }
      copied[language] = code;
      if (language === "Python") await screenshot(page, "playground-copy-as");
    }
    const env = { ...process.env, SWITCHYARD_API_KEY: token };

    // curl: as a shell runs it.
    const curlOut = await run("bash", ["-c", copied.curl as string], env);
    expect(JSON.parse(curlOut).choices[0].message.content).toBe(expected);

    // TypeScript: with the openai package, run by tsx.
    const tsFile = path.join(RESULTS_DIR, "snippet.mts");
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(tsFile, copied.TypeScript as string);
    const tsx = fileURLToPath(new URL("../../../node_modules/.bin/tsx", import.meta.url));
    expect((await run(tsx, [tsFile], env)).trim()).toBe(expected);

    // Python: its arguments, read by a stand-in `openai` module (the real one is not installed here).
    writeFileSync(
      path.join(dir, "openai.py"),
      [
        "import json",
        "class _Completions:",
        "    def create(self, **kwargs):",
        "        print(json.dumps(kwargs))",
        "        raise SystemExit(0)",
        "class _Chat:",
        "    completions = _Completions()",
        "class OpenAI:",
        "    def __init__(self, base_url, api_key):",
        "        assert base_url.endswith('/v1') and api_key",
        "        self.chat = _Chat()",
      ].join("\n"),
    );
    writeFileSync(path.join(dir, "snippet.py"), copied.Python as string);
    const pyOut = await run("python3", [path.join(dir, "snippet.py")], { ...env, PYTHONPATH: dir });
    expect(JSON.parse(pyOut)).toEqual(expectedBody);
  });

  it("fits a phone: parameters, a markdown answer and Copy as without horizontal scrolling", async () => {
    const phone = await browser.page({ width: 390, height: 844 });
    phone.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(m.text());
    });
    await signIn(phone, server.url, "admin", ADMIN_PASSWORD, "/admin/playground");
    await phone.getByLabel("Model", { exact: true }).waitFor();
    await phone.getByText("Parameters", { exact: true }).click();
    await phone.getByLabel("Temperature").fill("7");
    await phone.route("**/v1/chat/completions", (route) =>
      route.fulfill({ status: 200, contentType: "text/event-stream", body: sse(MARKDOWN_ANSWER) }),
    );
    await phone.getByLabel("Temperature").fill("0.7");
    await phone.getByLabel("Message", { exact: true }).fill("Show me markdown");
    await phone.getByRole("button", { name: "Send", exact: true }).click();
    await phone.getByTestId("assistant-text").locator("pre").waitFor();
    await phone.getByRole("button", { name: "Copy as code", exact: true }).click();
    expect(await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
    await screenshot(phone, "phone-playground-features");
    await phone.close();
  });

  it("logged no console error and met no Content-Security-Policy violation", () => {
    expect(consoleErrors).toEqual([]);
    expect(browser.cspViolations).toEqual([]);
  });
});
