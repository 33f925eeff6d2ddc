import { ApiKeyListSchema } from "@switchyard/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenStore } from "../src/node";
import {
  batchLine,
  freshHome,
  overWidth,
  passwordGrant,
  removeTempDirs,
  type SdkServer,
  startSdkServer,
  sy,
  syAtWidth,
  syEnv,
  writeBatchFile,
} from "./harness";

const WIDTHS = [80, 150] as const;
/** An SGR colour escape. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for colour escapes is the point
const COLOUR = /\u001b\[[0-9;]*m/;

/** Text with its line breaks and runs of spaces as single spaces: what a wrapped paragraph still says. */
const squash = (text: string) => text.replace(/\s+/g, " ");

/**
 * `sy` on real pseudo-terminals 80 and 150 columns wide (script(1), stty): no line wider than the
 * terminal (a progress bar's and a spinner's redraws included), a cut cell ends in an ellipsis and
 * a wrapped paragraph breaks between words, the status is never cut, colour only on a terminal
 * and never with NO_COLOR. Several commands per case, to keep the time small.
 */
describe("sy at 80 and 150 columns", () => {
  let h: SdkServer;
  /** ada's stored login (keys need it), NO_COLOR set. */
  let loginEnv: NodeJS.ProcessEnv;
  /** ada's API key, NO_COLOR set. */
  let keyEnv: NodeJS.ProcessEnv;

  const fits = (what: string, drawn: string[], columns: number) =>
    expect([what, columns, overWidth(drawn, columns)]).toEqual([what, columns, []]);

  beforeAll(async () => {
    h = await startSdkServer();
    const home = freshHome();
    const tokens = await passwordGrant(h.url, "ada");
    await new TokenStore(home.tokenFile).update((file) => {
      file.default_server = h.url;
      file.servers[h.url] = {
        username: "ada",
        user_id: "usr_ada",
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        expires_at: new Date(Date.now() + tokens.expires_in * 1000).toISOString(),
        logged_in_at: new Date().toISOString(),
        refreshed_at: null,
        client_id: "sy-cli",
      };
    });
    loginEnv = syEnv(home, { NO_COLOR: "1" });
    keyEnv = syEnv(freshHome(), { SWITCHYARD_URL: h.url, SWITCHYARD_API_KEY: h.adaKey, NO_COLOR: "1" });
  });
  afterAll(async () => {
    await h?.close();
    removeTempDirs();
  });

  it("keys create, keys list, whoami, jobs: within the width, ids and statuses whole, colour only without NO_COLOR", async () => {
    const name = "nightly evaluation pipeline of the physics group";
    for (const columns of WIDTHS) {
      const created = await syAtWidth(["keys", "create", "--name", name], loginEnv, columns);
      expect(created.code, created.output).toBe(0);
      fits("keys create", created.drawn, columns);
      // The note wraps between words: all of it is there.
      expect(squash(created.output)).toContain(`"${name}" (scopes: inference, batch; expires`);
      expect(squash(created.output)).toContain("Copy the key now: it is not shown again.");
    }
    const keys = ApiKeyListSchema.parse(JSON.parse((await sy(["keys", "list", "--json"], loginEnv)).stdout)).data;
    for (const columns of WIDTHS) {
      const list = await syAtWidth(["keys", "list"], loginEnv, columns);
      expect(list.code, list.output).toBe(0);
      fits("keys list", list.drawn, columns);
      const lines = list.output.trimEnd().split("\n");
      expect(lines[0]).toMatch(/^ID\s+NAME\s+.*STATUS\s+.*EXPIRES/);
      for (const key of keys) {
        // Every key on its own line, its id and status whole; a cut name ends in an ellipsis.
        const row = lines.find((l) => l.startsWith(`${key.id} `));
        expect(row, list.output).toMatch(/ active /);
        const shown = row?.slice(key.id.length).trim().split(/\s{2,}/)[0] ?? "";
        if (shown !== key.name) expect([shown, key.name?.startsWith(shown.slice(0, -1))]).toEqual([shown, true]);
        if (shown !== key.name) expect(shown.endsWith("…")).toBe(true);
      }
      if (columns === 150) expect(list.output).toContain(name);

      const whoami = await syAtWidth(["whoami"], keyEnv, columns);
      expect(whoami.code, whoami.output).toBe(0);
      fits("whoami", whoami.drawn, columns);
      expect(squash(whoami.output)).toMatch(/via: API key key_\w+ \(scopes: inference, batch; never expires\)/);

      const jobs = await syAtWidth(["jobs"], keyEnv, columns);
      expect(jobs.code, jobs.output).toBe(0);
      fits("jobs", jobs.drawn, columns);
      expect(jobs.output).toMatch(/^JOB\s+MODEL\s+STATE\s+NODE/m);
      expect(jobs.output.match(/^dep_\w+\s+org\/chat\s+live\s+hot-1 /m)).not.toBeNull();
      expect(jobs.output).toContain("nodes: a-1 4/4 GPUs free");
      expect(COLOUR.test(list.raw + whoami.raw + jobs.raw)).toBe(false);
    }
    // Colour on a terminal when NO_COLOR is not set (the key's status in green).
    const { NO_COLOR: _, ...coloured } = loginEnv;
    const list = await syAtWidth(["keys", "list"], coloured, 80);
    expect(list.raw).toMatch(/\u001b\[32mactive/);
    fits("keys list in colour", list.drawn, 80);
  });

  it("batch submit --wait (progress bar), list and status; a cold model's spinner: within the width, state never cut", async () => {
    const ids: string[] = [];
    for (const columns of WIDTHS) {
      const input = writeBatchFile(
        Array.from({ length: 12 }, (_, i) => batchLine(i, "org/chat", { max_tokens: 4 })),
        `prompts-${columns}.jsonl`,
      );
      const run = await syAtWidth(["batch", "submit", input, "--wait", "--interval", "0.3"], keyEnv, columns);
      expect(run.code, run.output).toBe(0);
      fits("batch submit --wait", run.drawn, columns);
      const id = /Batch (batch_\w+) completed: 12 of 12 requests answered, 0 failed\./.exec(squash(run.output))?.[1];
      expect(id, run.output).toBeDefined();
      ids.push(id as string);
      // The bar as drawn at the end: whole counts, the rate, the ETA and the state.
      expect(run.drawn.some((l) => /█+ 100% \| 12\/12 \| [\d.]+\/s \| ETA 0 s \| completed$/.test(l))).toBe(true);
      expect(squash(run.output)).toContain(`Get the answers: sy batch results ${id} -o answers.jsonl`);
      expect(COLOUR.test(run.raw)).toBe(false);
    }
    for (const columns of WIDTHS) {
      const list = await syAtWidth(["batch", "list"], keyEnv, columns);
      expect(list.code, list.output).toBe(0);
      fits("batch list", list.drawn, columns);
      for (const id of ids) expect(list.output).toMatch(new RegExp(`^${id}\\s+completed\\s+org/chat\\s+12/12\\s+0\\b`, "m"));
      const status = await syAtWidth(["batch", "status", ids[0] as string], keyEnv, columns);
      expect(status.code, status.output).toBe(0);
      fits("batch status", status.drawn, columns);
      expect(squash(status.output)).toContain("requests 12 of 12 done (12 answered, 0 failed)");
    }
    // A cold model: the spinner says what the model does and how long it has waited, within the width.
    for (const [columns, model] of [
      [80, "org/cold"],
      [150, "org/sleepy"],
    ] as const) {
      const chat = await syAtWidth(["chat", model, "hi", "--max-tokens", "3"], keyEnv, columns);
      expect(chat.code, chat.output).toBe(0);
      fits(`chat ${model} (spinner)`, chat.drawn, columns);
      expect(chat.drawn.some((l) => l.includes(`${model} is starting`))).toBe(true);
      expect(COLOUR.test(chat.raw)).toBe(false);
    }
  });

  it("--help of sy and its commands, and an interactive chat's /help: wrapped between words within the width", async () => {
    for (const columns of WIDTHS) {
      const top = await syAtWidth(["--help"], keyEnv, columns);
      expect(top.code).toBe(0);
      fits("sy --help", top.drawn, columns);
      const text = squash(top.output);
      for (const phrase of [
        "5 rate limited (or one active batch already), the model was still not ready after waiting, a batch's results not there yet",
        "--server URL or SWITCHYARD_URL default: the server of the last 'sy login', else http://127.0.0.1:8080",
        "Logins are kept in $XDG_CONFIG_HOME/switchyard/tokens.json (~/.config/switchyard/tokens.json), one per server.",
      ])
        expect(text).toContain(phrase);
      for (const args of [
        ["keys", "--help"],
        ["models", "--help"],
        ["batch", "submit", "--help"],
        ["chat", "--help"],
      ]) {
        const help = await syAtWidth(args, keyEnv, columns);
        expect(help.code).toBe(0);
        fits(args.join(" "), help.drawn, columns);
      }
      const chat = await syAtWidth(["chat", "org/chat", "--max-tokens", "3"], keyEnv, columns, [
        "/help\n",
        "hello\n",
        "\u0004",
      ]);
      expect(chat.code, chat.output).toBe(0);
      fits("chat /help", chat.drawn, columns);
      expect(squash(chat.output)).toContain(
        "/model [NAME] switch to another model (the conversation goes with it); alone: the current one",
      );
      expect(squash(chat.output)).toContain(
        "Ctrl-C stops an answer; at an empty prompt it leaves, as Ctrl-D does. Anything else is sent as your message.",
      );
      expect(chat.output).toContain("(stopped at the token limit: --max-tokens)");
    }
  });
});
