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
  type SizedTerminalResult,
  startSdkServer,
  syAtWidth,
  syEnv,
  writeBatchFile,
} from "./harness";

const WIDTHS = [80, 150] as const;
type Width = (typeof WIDTHS)[number];
/** An SGR colour escape. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for colour escapes is the point
const COLOUR = /\u001b\[[0-9;]*m/;

/** Text with its line breaks and runs of spaces as single spaces: what a wrapped paragraph still says. */
const squash = (text: string) => text.replace(/\s+/g, " ");

/** The same command on both terminals at once (each its own pseudo-terminal): the result per width. */
async function atBoth(
  args: string[],
  env: (columns: Width) => NodeJS.ProcessEnv,
): Promise<[Width, SizedTerminalResult][]> {
  return Promise.all(WIDTHS.map(async (w) => [w, await syAtWidth(args, env(w), w)] as [Width, SizedTerminalResult]));
}

/**
 * `sy` on real pseudo-terminals 80 and 150 columns wide (script(1), stty): no line wider than the
 * terminal (a progress bar's and a spinner's redraws included), a cut cell ends in an ellipsis and
 * a wrapped paragraph breaks between words, ids and statuses are never cut, colour only on a
 * terminal and never with NO_COLOR. The two widths run side by side to keep the time small.
 */
describe("sy at 80 and 150 columns", () => {
  let h: SdkServer;
  /** ada's stored login (keys need it), NO_COLOR set. */
  let loginEnv: NodeJS.ProcessEnv;
  /** ada's API key, NO_COLOR set. */
  let keyEnv: NodeJS.ProcessEnv;
  let accessToken: string;

  const fits = (what: string, result: SizedTerminalResult, columns: number) => {
    // SY_SHOW_TERMINAL=1 prints what each terminal showed (to look at the layouts).
    if (process.env.SY_SHOW_TERMINAL) console.log(`==== ${what} ${columns}\n${result.output}`);
    expect([what, columns, result.code], result.output).toEqual([what, columns, 0]);
    expect([what, columns, overWidth(result.drawn, columns)]).toEqual([what, columns, []]);
  };

  beforeAll(async () => {
    h = await startSdkServer();
    const home = freshHome();
    const tokens = await passwordGrant(h.url, "ada");
    accessToken = tokens.access_token;
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

  it("keys create, keys list, whoami, models, jobs: within the width, ids and statuses whole, colour only without NO_COLOR", async () => {
    const name = "nightly evaluation pipeline of the physics group";
    for (const [columns, created] of await atBoth(["keys", "create", "--name", name], () => loginEnv)) {
      fits("keys create", created, columns);
      // The note wraps between words: all of it is there.
      expect(squash(created.output)).toContain(`"${name}" (scopes: inference, batch; expires`);
      expect(squash(created.output)).toContain("Copy the key now: it is not shown again.");
    }
    const keys = ApiKeyListSchema.parse(
      await (await fetch(`${h.url}/v1/keys`, { headers: { authorization: `Bearer ${accessToken}` } })).json(),
    ).data;
    expect(keys.length).toBe(3);
    // In colour at 150 columns (NO_COLOR unset), without at 80.
    const { NO_COLOR: _, ...coloured } = loginEnv;
    for (const [columns, list] of await atBoth(["keys", "list"], (w) => (w === 150 ? coloured : loginEnv))) {
      fits("keys list", list, columns);
      const lines = list.output.trimEnd().split("\n");
      // The widest layout at 150 columns; at 80 the prefix, the creation time and the time of day give way.
      expect(lines[0]).toMatch(
        columns === 150
          ? /^ID\s+NAME\s+PREFIX\s+SCOPES\s+STATUS\s+CREATED\s+EXPIRES\s+LAST USED$/
          : /^ID\s+NAME\s+SCOPES\s+STATUS\s+EXPIRES\s+LAST USED$/,
      );
      for (const key of keys) {
        // Every key on its own line, its id and status whole; a cut name ends in an ellipsis.
        const row = lines.find((l) => l.startsWith(`${key.id} `));
        expect(row, list.output).toMatch(/ active /);
        const shown =
          row
            ?.slice(key.id.length)
            .trim()
            .split(/\s{2,}/)[0] ?? "";
        if (shown !== key.name)
          expect([shown, key.name?.startsWith(shown.slice(0, -1)), shown.at(-1)]).toEqual([shown, true, "…"]);
      }
      if (columns === 150) expect(list.raw).toContain("\u001b[32mactive");
      else expect(COLOUR.test(list.raw)).toBe(false);
    }
    for (const [columns, whoami] of await atBoth(["whoami"], () => keyEnv)) {
      fits("whoami", whoami, columns);
      expect(squash(whoami.output)).toMatch(/via: API key key_[\w-]+ \(scopes: inference, batch; never expires\)/);
      expect(COLOUR.test(whoami.raw)).toBe(false);
    }
    // `sy models` with the width from the terminal itself (cli.test.ts sets COLUMNS): every model on one line, status whole.
    for (const [columns, models] of await atBoth(["models"], () => keyEnv)) {
      fits("models", models, columns);
      const rows = models.output.trimEnd().split("\n").slice(1, -1);
      expect(rows).toHaveLength(7);
      for (const row of rows) expect(row).toMatch(/^org\/\S+\s+(Live|Starting|Queued|Offline)\b/);
    }
    for (const [columns, jobs] of await atBoth(["jobs"], () => keyEnv)) {
      fits("jobs", jobs, columns);
      expect(jobs.output).toMatch(/^JOB\s+MODEL\s+STATE\s+NODE/m);
      expect(jobs.output).toMatch(/^dep_\w+\s+org\/chat\s+live\s+hot-1 /m);
      expect(jobs.output).toContain("nodes: a-1 4/4 GPUs free");
      expect(COLOUR.test(jobs.raw)).toBe(false);
    }
  });

  it("batch submit --wait (progress bar), list and status; a cold model's spinner: within the width, state never cut", async () => {
    const ids: string[] = [];
    // One active batch at a time: one width after the other.
    for (const columns of WIDTHS) {
      const input = writeBatchFile(
        Array.from({ length: 12 }, (_, i) => batchLine(i, "org/chat", { max_tokens: 4 })),
        `prompts-${columns}.jsonl`,
      );
      const run = await syAtWidth(["batch", "submit", input, "--wait", "--interval", "0.3"], keyEnv, columns);
      fits("batch submit --wait", run, columns);
      const id = /Batch (batch_\w+) completed: 12 of 12 requests answered, 0 failed\./.exec(squash(run.output))?.[1];
      expect(id, run.output).toBeDefined();
      ids.push(id as string);
      // The bar as drawn at the end: whole counts, the rate, the ETA and the state.
      expect(
        run.drawn.some((l) => /█+ 100% \| 12\/12 \| ([\d.]+|-)\/s \| ETA 0 s \| completed$/.test(l)),
        run.drawn.filter((l) => l.includes("%")).join("\n"),
      ).toBe(true);
      // The command that fetches the answers whole, on its own line when the hint does not fit.
      expect(run.output).toMatch(new RegExp(`^(Get the answers: |  )sy batch results ${id} -o answers\\.jsonl$`, "m"));
      expect(COLOUR.test(run.raw)).toBe(false);
    }
    for (const [columns, list] of await atBoth(["batch", "list"], () => keyEnv)) {
      fits("batch list", list, columns);
      for (const id of ids)
        expect(list.output).toMatch(new RegExp(`^${id}\\s+completed\\s+org/chat\\s+12/12\\s+0\\b`, "m"));
    }
    for (const [columns, status] of await atBoth(["batch", "status", ids[0] as string], () => keyEnv)) {
      fits("batch status", status, columns);
      expect(squash(status.output)).toContain("requests 12 of 12 done (12 answered, 0 failed)");
    }
    // Cold models: the spinner says what the model does (within the width), then the answer streams.
    const cold = { 80: "org/cold", 150: "org/sleepy" } as const;
    const spinners = await Promise.all(
      WIDTHS.map((w) => syAtWidth(["chat", cold[w], "hi", "--max-tokens", "3"], keyEnv, w)),
    );
    spinners.forEach((chat, i) => {
      const columns = WIDTHS[i] as Width;
      fits(`chat ${cold[columns]} (spinner)`, chat, columns);
      expect(chat.drawn.some((l) => l.includes(`${cold[columns]} is starting`))).toBe(true);
      expect(COLOUR.test(chat.raw)).toBe(false);
    });
  });

  it("--help of sy and its commands, and an interactive chat's /help: wrapped between words within the width", async () => {
    for (const [columns, top] of await atBoth(["--help"], () => keyEnv)) {
      fits("sy --help", top, columns);
      const text = squash(top.output);
      for (const phrase of [
        "5 rate limited (or one active batch already), the model was still not ready after waiting, a batch's results not there yet",
        "--server URL or SWITCHYARD_URL default: the server of the last 'sy login', else http://127.0.0.1:8080",
        "Logins are kept in $XDG_CONFIG_HOME/switchyard/tokens.json (~/.config/switchyard/tokens.json), one per server.",
        "chat [options] <model> [prompt] chat with a model, streaming the answer;",
      ])
        expect(text).toContain(phrase);
    }
    for (const args of [
      ["batch", "submit", "--help"],
      ["chat", "--help"],
    ]) {
      for (const [columns, help] of await atBoth(args, () => keyEnv)) fits(args.join(" "), help, columns);
    }
    const sessions = await Promise.all(
      WIDTHS.map((w) =>
        syAtWidth(["chat", "org/chat", "--max-tokens", "3"], keyEnv, w, ["/help\n", "hello\n", "\u0004"]),
      ),
    );
    sessions.forEach((chat, i) => {
      const columns = WIDTHS[i] as Width;
      fits("chat /help", chat, columns);
      const text = squash(chat.output);
      expect(text).toContain(
        "/model [NAME] switch to another model (the conversation goes with it); alone: the current one",
      );
      expect(text).toContain(
        "Ctrl-C stops an answer; at an empty prompt it leaves, as Ctrl-D does. Anything else is sent as your message.",
      );
      expect(chat.output).toContain("(stopped at the token limit: --max-tokens)");
    });
  });
});
