import {
  ApiKeyListSchema,
  ChatCompletionSchema,
  CreatedApiKeySchema,
  EmbeddingResponseSchema,
  EndpointListSchema,
  JobsViewSchema,
  ModelListSchema,
} from "@switchyard/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenStore } from "../src/node";
import {
  closedPort,
  freshHome,
  passwordGrant,
  removeTempDirs,
  type SdkServer,
  SyProcess,
  startSdkServer,
  sy,
  syEnv,
  syInTerminal,
  whoIs,
} from "./harness";

/** The `sy` commands other than login, as a subprocess against a real server with simulators. */
describe("sy against a running server", () => {
  let h: SdkServer;
  const home = freshHome();
  /** ada's API key in SWITCHYARD_API_KEY. */
  let keyEnv: NodeJS.ProcessEnv;
  /** ada's stored login (what `sy login` leaves behind). */
  let loginEnv: NodeJS.ProcessEnv;

  const simulatorCancels = async (model: string) => {
    const url = h.server.ctx.scheduler.availability("lab", model).baseUrl as string;
    const text = await (await fetch(`${url}/metrics`)).text();
    return Number(/simulator_requests_cancelled_total\S* (\d+)/.exec(text)?.[1] ?? 0);
  };

  beforeAll(async () => {
    h = await startSdkServer();
    keyEnv = syEnv(freshHome(), { SWITCHYARD_URL: h.url, SWITCHYARD_API_KEY: h.adaKey });
    const tokens = await passwordGrant(h.url, "ada");
    const me = (await (
      await fetch(`${h.url}/v1/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } })
    ).json()) as {
      id: string;
    };
    await new TokenStore(home.tokenFile).update((file) => {
      file.default_server = h.url;
      file.servers[h.url] = {
        username: "ada",
        user_id: me.id,
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        expires_at: new Date(Date.now() + tokens.expires_in * 1000).toISOString(),
        logged_in_at: new Date().toISOString(),
        refreshed_at: null,
        client_id: "sy-cli",
      };
    });
    loginEnv = syEnv(home);
  });
  afterAll(async () => {
    await h?.close();
    removeTempDirs();
  });

  describe("model statuses", () => {
    it("lists every model with its status; --json is the /v1/models list", async () => {
      const result = await sy(["models", "--json"], keyEnv);
      expect(result.code).toBe(0);
      const list = ModelListSchema.parse(JSON.parse(result.stdout));
      const byId = new Map(list.data.map((m) => [m.id, m]));
      expect(byId.get("org/chat")).toMatchObject({ status: "live", max_model_len: 8192, aliases: ["chatty"] });
      expect(byId.get("org/glacial")).toMatchObject({ status: "offline" });
      expect(byId.has("org/secret")).toBe(false); // limited to the vip group
    });

    it("filters by --status, and prints tab-separated lines without a header when piped", async () => {
      const live = await sy(["models", "--status", "live"], keyEnv);
      expect(live.code).toBe(0);
      const rows = live.stdout
        .trim()
        .split("\n")
        .map((l) => l.split("\t"));
      expect(rows.map((r) => r[0]).sort()).toEqual(["org/chat", "org/embed", "org/limited", "org/slow"]);
      expect(rows.every((r) => r[1] === "live")).toBe(true);
      expect(live.stdout).not.toContain("MODEL"); // no header
      expect(live.stdout).not.toContain("\u001b["); // no colour
      const offline = await sy(["models", "--status", "offline", "--json"], keyEnv);
      expect(JSON.parse(offline.stdout).data.map((m: { id: string }) => m.id)).toContain("org/glacial");
    });

    it("fits the table to an 80- and a 150-column terminal, Live first, the shared engine said once", async () => {
      for (const columns of [80, 150]) {
        const result = await syInTerminal(["models"], {
          ...keyEnv,
          TERM: "xterm",
          NO_COLOR: "1",
          COLUMNS: String(columns),
        });
        expect(result.code, result.output).toBe(0);
        const lines = result.output.trimEnd().split("\n");
        expect(lines[0]).toMatch(/^MODEL\s+STATUS\s+CAPABILITIES/);
        for (const line of lines) expect([columns, line, line.length <= columns]).toEqual([columns, line, true]);
        // Every model on one line: its row starts with its id (or the cut id) and holds its status.
        const rows = lines.slice(1, -1);
        expect(rows).toHaveLength(7);
        const statuses = rows.map((r) => /\b(Live|Starting|Queued|Offline)\b/.exec(r)?.[1]);
        const order = ["Live", "Starting", "Queued", "Offline"];
        expect(statuses.map((st) => order.indexOf(st ?? ""))).toEqual(
          [...statuses.map((st) => order.indexOf(st ?? ""))].sort((a, b) => a - b),
        );
        expect(statuses[0]).toBe("Live");
        // The engine once, under the table, not on every row.
        expect(lines.at(-1)).toBe("engine: simulator (every model listed)");
        expect(result.output.match(/simulator/g)).toHaveLength(1);
        if (columns === 80) expect(result.output).toContain("…");
        else {
          expect(result.output).not.toContain("…");
          expect(result.output).toContain("chat,completions,tools(T),batch(B)");
          expect(result.output).toMatch(/org\/chat\s+Live\s.*alias chatty/);
        }
      }
    });

    it("watches: prints the list again when a status changes, until Ctrl-C", async () => {
      const watch = new SyProcess(["models", "--watch", "--interval", "0.3", "--json"], keyEnv);
      await watch.waitFor("stdout", /\n/);
      const first = JSON.parse(watch.stdout.split("\n")[0]!) as { data: { id: string; status: string }[] };
      expect(first.data.find((m) => m.id === "org/cold")?.status).toBe("offline");
      // Wake the cold model; the watch reports it starting, then live.
      await fetch(`${h.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${h.adaKey}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "org/cold", messages: [{ role: "user", content: "wake" }], max_tokens: 2 }),
      });
      await watch.waitFor("stdout", /"id":"org\/cold"[^}]*"status":"(starting|live)"/, 15_000);
      watch.child.kill("SIGINT");
      const result = await watch.done;
      expect(result.code).toBe(0);
      const snapshots = result.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      expect(snapshots.length).toBeGreaterThanOrEqual(2);
    });

    it("shows endpoints and jobs; --json is the server's own shape", async () => {
      const endpoints = await sy(["endpoints", "--json"], keyEnv);
      const list = EndpointListSchema.parse(JSON.parse(endpoints.stdout));
      expect(list.clusters.lab?.frameworks.vllm?.endpoint_urls.chat).toBe(
        "/resource_server/lab/vllm/v1/chat/completions",
      );
      const plain = await sy(["endpoints"], keyEnv);
      expect(plain.stdout).toContain("lab\tinfinity\tembedding\t/resource_server/lab/infinity/v1/embeddings");

      const jobs = await sy(["jobs", "lab", "--json"], keyEnv);
      expect(jobs.code).toBe(0);
      const view = JobsViewSchema.parse(JSON.parse(jobs.stdout));
      expect(view.running.flatMap((j) => j.models)).toEqual(expect.arrayContaining(["org/chat", "org/embed"]));
      expect(view.free_nodes).toEqual([]);

      const all = JSON.parse((await sy(["jobs", "--json"], keyEnv)).stdout) as { clusters: Record<string, unknown> };
      expect(Object.keys(all.clusters).sort()).toEqual(["annex", "lab"]);
      expect(JobsViewSchema.parse(all.clusters.annex).free_nodes).toEqual(["a-1"]);

      const unknown = await sy(["jobs", "mars"], keyEnv);
      expect(unknown.code).toBe(4);
      expect(unknown.stderr).toBe("sy: There is no cluster 'mars'. Known clusters: lab, annex.\n");
    });
  });

  describe("chat and embeddings", () => {
    it("streams the answer as it is generated", async () => {
      const proc = new SyProcess(["chat", "chatty", "Tell me about rail yards", "--max-tokens", "40"], keyEnv);
      const result = await proc.done;
      expect(result.code).toBe(0);
      expect(result.stdout.trim().split(/\s+/).length).toBeGreaterThan(10);
      expect(result.stdout.endsWith("\n")).toBe(true);
      // 40 tokens at 40 per second: the text arrives in pieces over about a second, not at once.
      expect(proc.stdoutTimes.length).toBeGreaterThan(5);
      expect(proc.stdoutTimes.at(-1)! - proc.stdoutTimes[0]!).toBeGreaterThan(400);
    });

    it("reads the prompt from stdin, and --json gives the whole completion", async () => {
      const result = await sy(["chat", "org/chat", "--json", "--max-tokens", "5"], keyEnv, "Hello from a pipe\n");
      expect(result.code).toBe(0);
      const completion = ChatCompletionSchema.parse(JSON.parse(result.stdout));
      expect(completion.choices[0]?.finish_reason).toBe("length");
      expect(completion.usage?.completion_tokens).toBe(5);
      const empty = await sy(["chat", "org/chat"], keyEnv, "  \n");
      expect(empty.code).toBe(1);
      expect(empty.stderr).toContain("Nothing to send");
    });

    it("waits for a cold model, saying what it is doing, and answers once it is live", async () => {
      const result = await sy(["chat", "org/sleepy", "wake up", "--max-tokens", "4"], keyEnv);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout.trim().split(" ")).toHaveLength(4);
      // stderr is not a terminal here: a line per change instead of the spinner.
      expect(result.stderr).toMatch(/^sy: org\/sleepy is starting(, about \d+ s to go|, almost ready)/m);
    });

    it("gives up with exit 5 when the model is not ready within --max-wait", async () => {
      const started = Date.now();
      const result = await sy(["chat", "org/glacial", "hello", "--max-wait", "3"], keyEnv);
      expect(result.code).toBe(5);
      expect(result.stderr).toMatch(/sy: org\/glacial is (starting|queued)/); // the progress lines (stderr is not a terminal)
      expect(result.stderr).toMatch(
        /sy: org\/glacial is still starting after waiting \d+ s \(--max-wait 3 s\): Model 'org\/glacial' is starting/,
      );
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(result.stdout).toBe("");
    });

    it("cancels the request on the server on Ctrl-C (exit 130)", async () => {
      const before = await simulatorCancels("org/slow");
      const proc = new SyProcess(["chat", "org/slow", "a very long story"], keyEnv);
      await proc.waitFor("stdout", /\S+ \S+ \S+/);
      proc.child.kill("SIGINT");
      const result = await proc.done;
      expect(result.code).toBe(130);
      expect(result.stderr).toContain("sy: Cancelled.");
      let after = before;
      for (let i = 0; i < 50 && after === before; i++) {
        await new Promise((r) => setTimeout(r, 50));
        after = await simulatorCancels("org/slow");
      }
      expect(after).toBe(before + 1);
    });

    it("embeds texts: one vector per text", async () => {
      const result = await sy(["embed", "org/embed", "first text", "second", "--json"], keyEnv);
      expect(result.code).toBe(0);
      const answer = EmbeddingResponseSchema.parse(JSON.parse(result.stdout));
      expect(answer.data.map((d) => (d.embedding as number[]).length)).toEqual([16, 16]);
      const plain = await sy(["embed", "org/embed", "one"], keyEnv);
      expect(JSON.parse(plain.stdout)).toHaveLength(16);
      const wrong = await sy(["embed", "org/chat", "x"], keyEnv);
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toContain("does not support embeddings");
    });
  });

  describe("API keys", () => {
    it("creates a key (printed once, alone on stdout), lists it, revokes it", async () => {
      const created = await sy(
        ["keys", "create", "--name", "pipeline", "--scopes", "inference", "--expires-days", "30"],
        loginEnv,
      );
      expect(created.code).toBe(0);
      const key = created.stdout.trim();
      expect(key).toMatch(/^sy_\S+$/);
      expect(created.stderr).toMatch(/Created key_\S+ "pipeline" \(scopes: inference; expires .*\)\. Copy the key now/);
      expect(await whoIs(h.url, key)).toEqual({ status: 200, username: "ada" });

      const list = ApiKeyListSchema.parse(JSON.parse((await sy(["keys", "list", "--json"], loginEnv)).stdout));
      const entry = list.data.find((k) => k.name === "pipeline");
      expect(entry).toMatchObject({ scopes: ["inference"], revoked_at: null, prefix: key.slice(0, 8) });
      expect(JSON.stringify(list)).not.toContain(key);

      const revoked = await sy(["keys", "revoke", entry!.id], loginEnv);
      expect(revoked.code).toBe(0);
      expect(revoked.stdout).toBe(`Revoked ${entry!.id} "pipeline".\n`);
      // At once: revoking through the server clears its credential cache.
      expect((await whoIs(h.url, key)).status).toBe(401);
      const rows = (await sy(["keys", "list"], loginEnv)).stdout.trim().split("\n");
      expect(rows.find((r) => r.startsWith(entry!.id))?.split("\t")[4]).toBe("revoked");
    });

    it("answers --json with the created key object", async () => {
      const result = await sy(["keys", "create", "--json"], loginEnv);
      const created = CreatedApiKeySchema.parse(JSON.parse(result.stdout));
      expect(created.scopes).toEqual(["inference", "batch"]);
      expect(result.stderr).toBe("");
    });

    it("refuses keys commands with a key that lacks the keys scope (exit 2)", async () => {
      const result = await sy(["keys", "list"], keyEnv);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain("not scoped for keys");
    });
  });

  describe("exit codes", () => {
    it("0 on success, and the documented table in sy --help", async () => {
      const help = await sy(["--help"], keyEnv);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(
        [
          "Exit codes:",
          "  0    success",
          "  1    other failure (bad arguments, a damaged token file, a server error; a batch rejected, failed, expired or cancelled)",
          "  2    not logged in, or the credentials were refused (401, 403; a login denied, expired or for another identity)",
          "  3    the server could not be reached",
          "  4    not found (an unknown model, cluster, key, batch, ...)",
          "  5    rate limited (or one active batch already), the model was still not ready after waiting, a batch's results not there yet",
        ].join("\n"),
      );
    });

    it("1 for bad arguments", async () => {
      const result = await sy(["models", "--status", "sleepy"], keyEnv);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("Allowed choices are live, starting, queued, offline, all");
      expect((await sy(["frobnicate"], keyEnv)).code).toBe(1);
    });

    it("1 for a numeric option outside the API's range, before any request is sent", async () => {
      // Nothing listens there: a request would end in exit 3, so exit 1 shows none was tried.
      const nowhere = { ...keyEnv, SWITCHYARD_URL: `http://127.0.0.1:${await closedPort()}` };
      const cases: [string[], RegExp][] = [
        [
          ["chat", "org/chat", "hi", "--temperature", "2.5"],
          /'--temperature <t>' argument '2\.5' is invalid\. expected a number from 0 to 2\./,
        ],
        [["chat", "org/chat", "hi", "--temperature", ""], /'--temperature <t>' argument '' is invalid/],
        [
          ["chat", "org/chat", "hi", "--top-p", "0"],
          /'--top-p <p>' argument '0' is invalid\. expected a number above 0 and at most 1\./,
        ],
        [["chat", "org/chat", "hi", "--top-p", "1.1"], /'--top-p <p>' argument '1\.1' is invalid/],
        [
          ["chat", "org/chat", "hi", "--max-tokens", "2.5"],
          /'--max-tokens <n>' argument '2\.5' is invalid\. expected a whole number of 1 or more\./,
        ],
        [["chat", "org/chat", "hi", "--max-wait", "0x10"], /'--max-wait <seconds>' argument '0x10' is invalid/],
        [
          ["models", "--watch", "--interval", "-1"],
          /'--interval <seconds>' argument '-1' is invalid\. expected a number above 0\./,
        ],
        [
          ["batch", "list", "--limit", "0"],
          /'--limit <n>' argument '0' is invalid\. expected a whole number from 1 to 100\./,
        ],
      ];
      for (const [args, message] of cases) {
        const result = await sy(args, nowhere);
        expect([args.join(" "), result.code]).toEqual([args.join(" "), 1]);
        expect(result.stderr).toMatch(message);
      }
      // In range: sent as given (the server takes them).
      const ok = await sy(
        ["chat", "org/chat", "hi", "--temperature", "2", "--top-p", "0.5", "--max-tokens", "3", "--json"],
        keyEnv,
      );
      expect(ok.code, ok.stderr).toBe(0);
    });

    it("2 when the credentials are refused: a bad key, a model of a group you are not in", async () => {
      const bad = await sy(["models"], { ...keyEnv, SWITCHYARD_API_KEY: "sy_not_a_real_key" });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toBe(
        "sy: The API key is not valid: unknown key. Check the API key (--api-key or SWITCHYARD_API_KEY).\n",
      );
      const flag = await sy(["models", "--api-key", "sy_also_wrong"], loginEnv);
      expect(flag.code).toBe(2);
      const secret = await sy(["chat", "org/secret", "hi"], keyEnv);
      expect(secret.code).toBe(2);
      expect(secret.stderr).toContain("limited to the groups: vip");
    });

    it("3 when the server cannot be reached", async () => {
      const closed = await closedPort();
      const result = await sy(["models", "--server", `http://127.0.0.1:${closed}`], keyEnv);
      expect(result.code).toBe(3);
      expect(result.stderr).toBe(
        `sy: Cannot reach the Switchyard server at http://127.0.0.1:${closed}: connection refused (is it running? 'switchyard serve' starts one).\n`,
      );
    });

    it("4 for an unknown model or key", async () => {
      const model = await sy(["chat", "acme/nothing", "hi"], keyEnv);
      expect(model.code).toBe(4);
      // Said as sy says it (not the HTTP route), and no guess when nothing is close.
      expect(model.stderr).toBe(
        "sy: The model 'acme/nothing' does not exist. `sy models` lists the available models.\n",
      );
      // A near miss of an id or an alias: the catalog's closest names.
      const typo = await sy(["chat", "org/chta", "hi"], keyEnv);
      expect([typo.code, typo.stderr]).toEqual([
        4,
        "sy: The model 'org/chta' does not exist. Did you mean org/chat? `sy models` lists the available models.\n",
      ]);
      const alias = await sy(["embed", "chaty", "hi"], keyEnv);
      expect(alias.stderr).toContain("Did you mean chatty?");
      const short = await sy(["chat", "Embed", "hi", "--json"], keyEnv);
      expect(JSON.parse(short.stderr).error).toMatchObject({
        exit_code: 4,
        code: "model_not_found",
        message: "The model 'Embed' does not exist. Did you mean org/embed? `sy models` lists the available models.",
      });
      expect((await sy(["keys", "revoke", "key_doesnotexist"], loginEnv)).code).toBe(4);
    });

    it("5 when rate limited", async () => {
      const first = await sy(["chat", "org/limited", "one", "--max-tokens", "2"], keyEnv);
      expect(first.code).toBe(0);
      const second = await sy(["chat", "org/limited", "two", "--max-tokens", "2", "--json"], keyEnv);
      expect(second.code).toBe(5);
      const error = JSON.parse(second.stderr) as { error: { code: string; status: number; exit_code: number } };
      expect(error.error).toMatchObject({ code: "rate_limit_requests", status: 429, exit_code: 5 });
    });
  });
});
