import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { BatchListSchema, BatchObjectSchema } from "@switchyard/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BIN,
  batchLine,
  freshHome,
  removeTempDirs,
  type SdkServer,
  startSdkServer,
  sy,
  syEnv,
  writeBatchFile,
} from "./harness";

/** script(1) (util-linux; Debian's bsdutils) gives `sy` a terminal; CI installs it, so there it must be here. */
const hasScript = spawnSync("script", ["--version"]).status === 0;
const servicesRequired = process.env.SWITCHYARD_REQUIRE_SERVICES === "1";
if (!hasScript && !servicesRequired)
  console.warn(
    "packages/sdk/test/cli-batch.test.ts: skipping the progress-bar test: script(1) is not installed (Debian: bsdutils)",
  );

function shellQuote(word: string): string {
  return `'${word.replace(/'/g, "'\\''")}'`;
}

function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += String(chunk);
    });
    child.stderr.on("data", (chunk) => {
      output += String(chunk);
    });
    child.on("close", (code) => resolve({ code, output }));
  });
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => `req-${i}`);

function jsonLines(text: string): { custom_id: string; response: { status_code: number } | null }[] {
  return text
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** `sy batch ...` as a subprocess against a real server with batch-capable simulators. */
describe("sy batch", () => {
  let h: SdkServer;
  let env: NodeJS.ProcessEnv;

  const statusOf = async (id: string) =>
    BatchObjectSchema.parse(JSON.parse((await sy(["batch", "status", id, "--json"], env)).stdout));

  beforeAll(async () => {
    h = await startSdkServer({ models: "batch" });
    env = syEnv(freshHome(), { SWITCHYARD_URL: h.url, SWITCHYARD_API_KEY: h.adaKey });
  });
  afterAll(async () => {
    await h?.close();
    removeTempDirs();
  });

  it("submits a file whose lines name no model with --model, waits, and prints the completed batch as JSON", async () => {
    const input = writeBatchFile(ids(200).map((_, i) => batchLine(i, null)));
    const submitted = await sy(
      ["batch", "submit", input, "--model", "org/paced", "--wait", "--json", "--interval", "0.3"],
      env,
    );
    expect(submitted.code, submitted.stderr).toBe(0);
    const batch = BatchObjectSchema.parse(JSON.parse(submitted.stdout));
    expect(batch).toMatchObject({
      status: "completed",
      model: "org/paced",
      endpoint: "/v1/chat/completions",
      request_counts: { total: 200, completed: 200, failed: 0 },
    });
    expect(submitted.stderr).toBe(""); // --json: no progress, no notes

    // The answers: one line per input line, in input order, to stdout or a file.
    const results = await sy(["batch", "results", batch.id], env);
    expect(results.code).toBe(0);
    const lines = jsonLines(results.stdout);
    expect(lines.map((l) => l.custom_id)).toEqual(ids(200));
    expect(lines.every((l) => l.response?.status_code === 200)).toBe(true);
    expect(results.stderr).toBe("Wrote 200 answers.\n");
    const out = path.join(path.dirname(input), "answers.jsonl");
    const toFile = await sy(["batch", "results", batch.id, "--output", out], env);
    expect([toFile.code, toFile.stdout]).toEqual([0, ""]);
    expect(readFileSync(out, "utf8")).toBe(results.stdout);
    const errors = await sy(["batch", "results", batch.id, "--errors"], env);
    expect([errors.code, errors.stdout]).toEqual([0, ""]);
    expect(errors.stderr).toContain("has no failed requests");

    const listed = await sy(["batch", "list", "--json"], env);
    expect(BatchListSchema.parse(JSON.parse(listed.stdout)).data.map((b) => b.id)).toContain(batch.id);
    const plain = await sy(["batch", "list"], env);
    expect(plain.stdout.split("\n")[0]?.split("\t")).toEqual([
      batch.id,
      "completed",
      "org/paced",
      "200/200",
      "0",
      expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d$/),
    ]);
  });

  it("prints the batch id on stdout and progress lines on a plain stderr; wait prints a summary", async () => {
    const input = writeBatchFile(ids(150).map((_, i) => batchLine(i, "org/paced")));
    const submitted = await sy(["batch", "submit", input, "--interval", "0.3"], env);
    expect(submitted.code, submitted.stderr).toBe(0);
    const id = submitted.stdout.trim();
    expect(id).toMatch(/^batch_\w+$/);
    expect(submitted.stderr).toMatch(/^Uploaded input\.jsonl \(\d+ bytes\) as file-\w+\.$/m);
    expect(submitted.stderr).toMatch(/The file passed the checks: 150 requests/);

    const waited = await sy(["batch", "wait", id, "--interval", "0.3"], env);
    expect(waited.code, waited.stderr).toBe(0);
    expect(waited.stdout).toBe(`Batch ${id} completed: 150 of 150 requests answered, 0 failed.\n`);
    expect(waited.stderr).toMatch(new RegExp(`sy: ${id} is completed \\(150/150\\)`));
    // One line per status change, not one per poll; then how to get the answers.
    expect(waited.stderr.split("\n").filter((l) => l.startsWith("sy: ")).length).toBeLessThanOrEqual(4);
    expect(waited.stderr).toMatch(new RegExp(`Get the answers: sy batch results ${id} -o answers\\.jsonl\n$`));

    const status = await sy(["batch", "status", id], env);
    expect(status.stdout).toMatch(/status\s+completed/);
    expect(status.stdout).toMatch(/requests\s+150 of 150 done \(150 answered, 0 failed\)/);
  });

  it.skipIf(!hasScript && !servicesRequired)("draws a progress bar with rate and ETA on a terminal", async () => {
    if (!hasScript) throw new Error("script(1) is not installed; SWITCHYARD_REQUIRE_SERVICES=1 forbids skipping");
    const input = writeBatchFile(ids(100).map((_, i) => batchLine(i, "org/slow", { max_tokens: 6 })));
    const id = (await sy(["batch", "submit", input], env)).stdout.trim();
    expect(id).toMatch(/^batch_/);
    // script(1) gives `sy` a pseudo-terminal for stdout and stderr.
    const command = [process.execPath, BIN, "batch", "wait", id, "--interval", "0.3"].map(shellQuote).join(" ");
    const result = await run("script", ["-qfec", command, "/dev/null"], { ...env, TERM: "xterm", COLUMNS: "160" });
    expect(result.code, result.output).toBe(0);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping ANSI escapes is the point
    const screen = result.output.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, "");
    // Redrawn as it goes: partway with a rate and an ETA, then the end.
    expect(screen).toMatch(new RegExp(`${id} \\S+ \\d{1,2}% \\| \\d+/100 \\| [\\d.]+/s \\| ETA \\d+ s \\| running`));
    expect(screen).toMatch(new RegExp(`${id} \\S+ 100% \\| 100/100 \\| [\\d.]+/s \\| ETA 0 s \\| completed`));
    expect(screen).toContain(`Batch ${id} completed: 100 of 100 requests answered, 0 failed.`);
    expect(screen).toContain(`Get the answers: sy batch results ${id} -o answers.jsonl`);
  });

  it("prints a rejected file's problems with their line numbers and exits 1; nothing ran", async () => {
    const input = writeBatchFile([
      batchLine(0),
      "this is not json",
      JSON.stringify({ method: "POST", url: "/v1/chat/completions", body: { model: "org/batchy", messages: [] } }),
      batchLine(0),
    ]);
    const result = await sy(["batch", "submit", input, "--wait"], env);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe(""); // no batch id: there is nothing to follow
    expect(result.stderr).toMatch(/sy: Batch batch_\w+ failed: the file was rejected and nothing ran\. Problems:\n/);
    expect(result.stderr).toContain("\n  line 2: Not valid JSON");
    expect(result.stderr).not.toContain("this is not json"); // a line's content is never echoed
    expect(result.stderr).toMatch(/\n {2}line 3: .*custom_id.* \(invalid_request_line, custom_id\)\n/);
    expect(result.stderr).toMatch(
      /\n {2}line 4: The custom_id is already used on line 1\. \(duplicate_custom_id, custom_id\)\n/,
    );

    const json = await sy(["batch", "submit", input, "--json"], env);
    expect(json.code).toBe(1);
    const batch = BatchObjectSchema.parse(JSON.parse(json.stdout));
    expect(batch.status).toBe("failed");
    expect(batch.errors?.data.map((e) => e.line)).toEqual([2, 3, 4]);
    expect(batch.request_counts.completed).toBe(0);
    expect(JSON.parse(json.stderr).error).toMatchObject({ exit_code: 1, message: expect.stringContaining("line 2:") });

    // A first line without a model and no --model: said before anything is uploaded.
    const noModel = await sy(["batch", "submit", writeBatchFile([batchLine(0, null)])], env);
    expect(noModel.code).toBe(1);
    expect(noModel.stderr).toMatch(/names no model \(body\.model\): give --model/);
  });

  it("refuses before a byte is uploaded: a file that is not JSONL requests, an unknown model, a model without batch, the active-batch limit", async () => {
    const filesNow = async () => (await h.server.ctx.db.prisma.file.count()) as number;
    const before = await filesNow();
    const dir = path.dirname(writeBatchFile([batchLine(0)]));
    const garbage: [string, string, RegExp][] = [
      ["empty.jsonl", "", /empty\.jsonl is not a batch input file: it is empty\./],
      [
        "table.csv",
        "id,question\n1,why\n2,how\n",
        /table\.csv is not a batch input file: none of its 3 lines is a request\./,
      ],
      [
        "array.json",
        JSON.stringify([JSON.parse(batchLine(0)), JSON.parse(batchLine(1))], null, 2),
        /array\.json is not a batch input file: none of its first 20 lines is a request\./,
      ],
      ["one.txt", "hello\n", /one\.txt is not a batch input file: its one line is not a request\./],
    ];
    for (const [name, content, message] of garbage) {
      const file = path.join(dir, name);
      writeFileSync(file, content);
      for (const args of [[file], [file, "--model", "org/batchy"]]) {
        const result = await sy(["batch", "submit", ...args], env);
        expect([name, result.code, result.stdout]).toEqual([name, 1, ""]);
        expect(result.stderr).toMatch(message);
        expect(result.stderr).toContain('one request per line: {"custom_id"');
        expect(result.stderr).not.toMatch(/Uploaded|Created|no model named/);
      }
    }

    const unknown = await sy(["batch", "submit", writeBatchFile([batchLine(0, "org/unknown")])], env);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toMatch(
      /The model 'org\/unknown' does not exist\. `sy models` lists the available models\./,
    );
    const typo = await sy(["batch", "submit", writeBatchFile([batchLine(0, null)]), "--model", "org/bathcy"], env);
    expect([typo.code, typo.stderr]).toEqual([
      4,
      "sy: The model 'org/bathcy' does not exist. Did you mean org/batchy? `sy models` lists the available models.\n",
    ]);
    const noBatch = await sy(["batch", "submit", writeBatchFile([batchLine(0, null)]), "--model", "org/chatonly"], env);
    expect(noBatch.code).toBe(1);
    expect(noBatch.stderr).toMatch(/Model 'org\/chatonly' does not support batches\. Models that do: /);
    for (const result of [unknown, noBatch]) expect(result.stderr).not.toMatch(/Upload/);

    // One active batch already: refused with its id (exit 5), nothing uploaded.
    const running = writeBatchFile(ids(100).map((_, i) => batchLine(i, "org/slow", { max_tokens: 20 })));
    const first = await sy(["batch", "submit", running], env);
    expect(first.code, first.stderr).toBe(0);
    const id = first.stdout.trim();
    const uploaded = await filesNow();
    const second = await sy(["batch", "submit", writeBatchFile([batchLine(0)])], env);
    expect(second.code).toBe(5);
    expect(second.stderr).toContain(
      `: ${id}. Follow it with \`sy batch wait ${id}\`, or stop it with \`sy batch cancel ${id}\`.\n`,
    );
    expect(second.stderr).not.toMatch(/Upload/);
    expect(await filesNow()).toBe(uploaded);
    expect(uploaded).toBe(before + 1); // only the running batch's input reached the server
    expect((await sy(["batch", "cancel", id], env)).code).toBe(0);
  });

  it.skipIf(!hasScript && !servicesRequired)(
    "says 'not logged in' before it uploads anything, on a terminal too",
    async () => {
      if (!hasScript) throw new Error("script(1) is not installed; SWITCHYARD_REQUIRE_SERVICES=1 forbids skipping");
      const input = writeBatchFile([batchLine(0)]);
      const command = [process.execPath, BIN, "batch", "submit", input].map(shellQuote).join(" ");
      const nobody = syEnv(freshHome(), { SWITCHYARD_URL: h.url, TERM: "xterm", COLUMNS: "120" });
      const result = await run("script", ["-qfec", command, "/dev/null"], nobody);
      expect(result.code, result.output).toBe(2);
      expect(result.output).toMatch(/Not logged in/);
      expect(result.output).not.toMatch(/Upload/);
    },
  );

  it("cancels a running batch: it ends cancelled with the answers so far; waiting on it exits 1", async () => {
    const input = writeBatchFile(ids(200).map((_, i) => batchLine(i, "org/slow", { max_tokens: 20 })));
    const submitted = await sy(["batch", "submit", input, "--interval", "0.3"], env);
    expect(submitted.code, submitted.stderr).toBe(0);
    const id = submitted.stdout.trim();

    // Still running: no results yet (exit 5, "not ready"), and a second batch is over the limit of one.
    const early = await sy(["batch", "results", id], env);
    expect(early.code).toBe(5);
    expect(early.stderr).toMatch(/is (validating|in_progress) \(\d+ of 200 done\); its results are there once it ends/);
    const second = await sy(["batch", "submit", input], env);
    expect(second.code).toBe(5);
    expect(second.stderr).toContain(id);

    const until = Date.now() + 20_000;
    while ((await statusOf(id)).request_counts.completed < 3) {
      if (Date.now() > until) throw new Error("the batch made no progress");
      await new Promise((r) => setTimeout(r, 200));
    }
    const cancelled = await sy(["batch", "cancel", id], env);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    const final = await statusOf(id);
    expect(final.status).toBe("cancelled");
    const kept = final.request_counts.completed;
    expect(kept).toBeGreaterThanOrEqual(3);
    expect(kept).toBeLessThan(200);
    expect(cancelled.stdout).toBe(
      `Cancelled ${id}: ${kept} answered and ${final.request_counts.failed} failed of 200 are kept (sy batch results ${id}).\n`,
    );
    const results = await sy(["batch", "results", id], env);
    expect(jsonLines(results.stdout).map((l) => l.custom_id)).toEqual(ids(kept));

    const waited = await sy(["batch", "wait", id, "--json"], env);
    expect(waited.code).toBe(1);
    expect(JSON.parse(waited.stdout).status).toBe("cancelled");
    expect(JSON.parse(waited.stderr).error.message).toMatch(/was cancelled/);
  });

  it("submits a file on the server's shared storage through the reference API (--shared)", async () => {
    const input = writeBatchFile(
      ids(40).map((_, i) => batchLine(i)),
      "prompts.jsonl",
      h.shared,
    );
    const result = await sy(["batch", "submit", input, "--shared", "--model", "batchy", "--wait"], env);
    expect(result.code, result.stderr).toBe(0);
    const id = result.stdout.trim();
    expect(result.stderr).toContain(`Batch ${id} completed: 40 of 40 requests answered, 0 failed.`);
    const status = await sy(["batch", "status", id], env);
    expect(status.stdout).toMatch(
      new RegExp(`results\\s+${h.shared}/prompts_org_batchy_${id}/prompts_\\d{8}-\\d{6}\\.results\\.jsonl`),
    );
    // The results are on shared storage, which this machine sees: `results` reads them there.
    const results = await sy(["batch", "results", id], env);
    expect(jsonLines(results.stdout).map((l) => l.custom_id)).toEqual(ids(40));

    const noModel = await sy(["batch", "submit", input, "--shared"], env);
    expect([noModel.code, noModel.stderr]).toEqual([
      1,
      "sy: --shared needs --model (the reference API names the model).\n",
    ]);
  });

  it("--project names the allocation to charge; with several and none named, or a spent budget, nothing is uploaded", async () => {
    const prisma = h.server.ctx.db.prisma;
    const ada = await prisma.user.findUniqueOrThrow({ where: { username: "ada" } });
    const climate = await prisma.project.create({ data: { name: "climate", members: { create: { userId: ada.id } } } });
    const uploads = () => prisma.file.count({ where: { userId: ada.id, purpose: "batch" } });
    try {
      const input = writeBatchFile(ids(5).map((_, i) => batchLine(i)));
      const before = await uploads();
      const several = await sy(["batch", "submit", input], env);
      expect([several.code, several.stderr]).toEqual([
        1,
        "sy: You are a member of several active projects (climate, default); name the one to charge with 'project' (sy batch submit --project NAME).\n",
      ]);
      expect(await uploads()).toBe(before);

      const charged = await sy(["batch", "submit", input, "--project", "climate", "--wait", "--json"], env);
      expect(charged.code, charged.stderr).toBe(0);
      const batch = BatchObjectSchema.parse(JSON.parse(charged.stdout));
      expect(batch.status).toBe("completed");
      expect((await prisma.batch.findUniqueOrThrow({ where: { id: batch.id } })).projectId).toBe(climate.id);
      await h.server.ctx.usage.flush();
      const usage = await prisma.usageRecord.findMany({ where: { requestId: { startsWith: batch.id } } });
      expect(usage.map((u) => u.projectId)).toEqual(Array(5).fill(climate.id));

      await prisma.project.update({ where: { id: climate.id }, data: { tokenBudget: 1n } });
      const uploaded = await uploads();
      const spent = await sy(["batch", "submit", input, "--project", "climate"], env);
      expect(spent.code).toBe(5);
      expect(spent.stderr).toMatch(/^sy: Project 'climate' has used \d+ of its 1 tokens; ask an administrator/);
      expect(await uploads()).toBe(uploaded);
      const shared = writeBatchFile(
        ids(1).map((_, i) => batchLine(i)),
        "charged.jsonl",
        h.shared,
      );
      const reference = await sy(
        ["batch", "submit", shared, "--shared", "--model", "org/batchy", "--project", "climate"],
        env,
      );
      expect(reference.code).toBe(5);
    } finally {
      await prisma.project.delete({ where: { id: climate.id } });
    }
  });

  it("exits 4 for an unknown batch, 4 for an unknown model, 2 without credentials, 1 for a missing file", async () => {
    const unknown = await sy(["batch", "status", "nope"], env);
    expect([unknown.code, unknown.stderr]).toEqual([4, "sy: There is no batch 'nope'.\n"]);
    expect((await sy(["batch", "cancel", "nope"], env)).code).toBe(4);
    expect((await sy(["batch", "results", "nope"], env)).code).toBe(4);

    const input = writeBatchFile([batchLine(0, "org/unknown")]);
    const model = await sy(["batch", "submit", input], env);
    expect(model.code).toBe(4);
    expect(model.stderr).toMatch(/org\/unknown/);

    const nobody = await sy(["batch", "list"], syEnv(freshHome(), { SWITCHYARD_URL: h.url }));
    expect(nobody.code).toBe(2);
    expect(nobody.stderr).toMatch(/Not logged in/);

    const missing = await sy(["batch", "submit", "/no/such/file.jsonl", "--model", "org/batchy"], env);
    expect([missing.code, missing.stderr]).toEqual([1, "sy: Cannot read /no/such/file.jsonl: no such file.\n"]);
  });
});
