import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshHome, removeTempDirs, type SdkServer, SyTerminal, startSdkServer, syEnv } from "./harness";

interface SentMessage {
  role: string;
  content: string;
}

/**
 * In front of the server: passes every request through, and keeps the body of each chat
 * completion request, so a test sees what `sy chat` sent (the history of a conversation).
 */
async function recordingProxy(
  target: string,
): Promise<{ url: string; chats: { model: string; messages: SentMessage[] }[]; server: Server }> {
  const chats: { model: string; messages: SentMessage[] }[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    if (req.url === "/v1/chat/completions") chats.push(JSON.parse(body.toString("utf8")));
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === "string" && !["host", "connection", "content-length"].includes(name))
        headers.set(name, value);
    }
    const answer = await fetch(`${target}${req.url}`, {
      method: req.method,
      headers,
      ...(body.length ? { body } : {}),
    });
    const out: Record<string, string> = {};
    answer.headers.forEach((value, name) => {
      if (!["content-encoding", "content-length", "transfer-encoding", "connection"].includes(name)) out[name] = value;
    });
    res.writeHead(answer.status, out);
    if (!answer.body) return res.end();
    const stream = Readable.fromWeb(answer.body as never);
    res.on("close", () => stream.destroy());
    stream.pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, chats, server };
}

/** `sy chat MODEL` without a prompt on a terminal: a conversation, typed into a pseudo-terminal. */
describe("sy chat as a conversation", () => {
  let h: SdkServer;
  let proxy: Awaited<ReturnType<typeof recordingProxy>>;
  let env: NodeJS.ProcessEnv;

  const simulatorCancels = async (model: string) => {
    const url = h.server.ctx.scheduler.availability("lab", model).baseUrl as string;
    const text = await (await fetch(`${url}/metrics`)).text();
    return Number(/simulator_requests_cancelled_total\S* (\d+)/.exec(text)?.[1] ?? 0);
  };

  beforeAll(async () => {
    h = await startSdkServer();
    proxy = await recordingProxy(h.url);
    env = syEnv(freshHome(), { SWITCHYARD_URL: proxy.url, SWITCHYARD_API_KEY: h.adaKey, TERM: "xterm", NO_COLOR: "1" });
  });

  afterAll(async () => {
    proxy?.server.close();
    await h?.close();
    removeTempDirs();
  });

  it("sends each message with the conversation so far; /clear forgets it; Ctrl-D leaves with exit 0", async () => {
    const term = new SyTerminal(["chat", "chatty", "--max-tokens", "6", "--system", "Be brief."], env);
    await term.waitFor(/Chatting with org\/chat \(with a system prompt\)\..*\n> $/);
    const before = proxy.chats.length;

    term.type("What is a rail yard?\r");
    let mark = term.output.length;
    await term.waitFor(/\n> $/, mark);
    // The answer, as the terminal showed it: the line after the one typed.
    const first = /What is a rail yard\?\n(.+)\n/.exec(term.output)?.[1]?.trim();
    expect(first?.length).toBeGreaterThan(5);
    expect(term.output).toContain("(stopped at the token limit: --max-tokens)");

    term.type("And a switch?\r");
    mark = term.output.length;
    await term.waitFor(/\n> $/, mark);
    const sent = proxy.chats.slice(before);
    expect(sent).toHaveLength(2);
    expect(sent[0]?.messages).toEqual([
      { role: "system", content: "Be brief." },
      { role: "user", content: "What is a rail yard?" },
    ]);
    // The second request carries the first turn: the question and the answer shown for it.
    expect(sent[1]?.model).toBe("chatty");
    expect(sent[1]?.messages.map((m) => m.role)).toEqual(["system", "user", "assistant", "user"]);
    expect(sent[1]?.messages[2]?.content.trim()).toBe(first);
    expect(sent[1]?.messages[3]).toEqual({ role: "user", content: "And a switch?" });

    term.type("/clear\r");
    mark = term.output.length;
    await term.waitFor(/forgotten.*\n> $/, mark);
    term.type("/system Answer in French.\r");
    mark = term.output.length;
    await term.waitFor(/System prompt set.*\n> $/, mark);
    term.type("Hello again\r");
    mark = term.output.length;
    await term.waitFor(/\n> $/, mark);
    expect(proxy.chats.at(-1)?.messages).toEqual([
      { role: "system", content: "Answer in French." },
      { role: "user", content: "Hello again" },
    ]);

    term.type("\u0004");
    const result = await term.done;
    expect(result.code, result.output).toBe(0);
    expect(result.output).not.toMatch(/sy: /); // no error on the way
  });

  it("/model switches to a model of the server's list, suggests one for a typo; /help lists the commands", async () => {
    const term = new SyTerminal(["chat", "org/chat", "--max-tokens", "3"], env);
    await term.waitFor(/\n> $/);
    term.type("/model chaty\r");
    let mark = term.output.length;
    await term.waitFor(/\n> $/, mark);
    expect(term.output.slice(mark)).toContain("The model 'chaty' does not exist. Did you mean chatty?");
    term.type("/model org/embed\r");
    mark = term.output.length;
    await term.waitFor(/\n> $/, mark);
    expect(term.output.slice(mark)).toContain("org/embed does not chat");
    term.type("/model org/limited\r");
    mark = term.output.length;
    await term.waitFor(/Now chatting with org\/limited\.\n> $/, mark);
    term.type("hi\r");
    mark = term.output.length;
    await term.waitFor(/\n> $/, mark);
    expect(proxy.chats.at(-1)?.model).toBe("org/limited");
    term.type("/hepl\r");
    mark = term.output.length;
    await term.waitFor(/did you mean \/help\?.*\n> $/, mark);
    term.type("/help\r");
    mark = term.output.length;
    await term.waitFor(/\/clear[\s\S]*Ctrl-C stops an answer.*\n> $/, mark);
    term.type("/exit\r");
    expect((await term.done).code).toBe(0);
  });

  it("Ctrl-C stops the answer (the server cancels it) and returns to the prompt; at an empty prompt it leaves with 0", async () => {
    const cancels = await simulatorCancels("org/slow");
    const term = new SyTerminal(["chat", "org/slow"], env);
    await term.waitFor(/\n> $/);
    term.type("Tell me a very long story\r");
    let mark = term.output.length;
    await term.waitFor(/story\n\S+ \S+ \S+ \S+/, mark - 30);
    term.type("\u0003");
    await term.waitFor(/\(stopped; what came is kept\)\n> $/, mark);
    let after = cancels;
    for (let i = 0; i < 50 && after === cancels; i++) {
      await new Promise((r) => setTimeout(r, 50));
      after = await simulatorCancels("org/slow");
    }
    expect(after).toBe(cancels + 1);
    // Still in the conversation: the next message goes with the stopped one.
    term.type("/model org/chat\r");
    mark = term.output.length;
    await term.waitFor(/goes with it.*\n> $/, mark);
    // Ctrl-C with something typed drops it; at the empty prompt, it leaves.
    term.type("half a thought");
    term.type("\u0003");
    mark = term.output.length;
    await term.waitFor(/\^C\n> $/, mark - 20);
    term.type("\u0003");
    const result = await term.done;
    expect(result.code, result.output).toBe(0);
  });

  it("an unknown model is refused before the conversation starts (exit 4, with a suggestion)", async () => {
    const term = new SyTerminal(["chat", "chaty"], env);
    const result = await term.done;
    expect(result.code).toBe(4);
    expect(result.output).toContain("sy: The model 'chaty' does not exist. Did you mean chatty?");
  });
});
