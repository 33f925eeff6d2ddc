import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { testDrivers } from "@switchyard/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BatchHarness, chatLine, jsonl, startBatchHarness } from "./batch-harness";

const BIN = fileURLToPath(new URL("../bin/switchyard-source.mjs", import.meta.url));
const drivers = await testDrivers();

/** `switchyard batch-worker` as its own process, as an operator runs it beside serve. */
function startWorker(h: BatchHarness, env: Record<string, string | undefined> = { DATABASE_URL: h.databaseUrl }) {
  const child: ChildProcess = spawn(
    process.execPath,
    [BIN, "batch-worker", "--data-dir", h.dataDir, "--config", `${h.dataDir}/switchyard.yaml`, "--metrics-port", "0"],
    { env: { PATH: process.env.PATH, HOME: process.env.HOME, SWITCHYARD_LOG_FORMAT: "json", ...env } },
  );
  let stderr = "";
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const metrics = new Promise<string>((resolve, reject) => {
    child.stderr?.on("data", (d) => {
      stderr += d;
      const match = /metrics: (http:\/\/\S+)\/metrics/.exec(stderr);
      if (match?.[1]) resolve(match[1]);
    });
    void exited.then((code) => reject(new Error(`batch-worker exited with ${code}: ${stderr}`)));
  });
  return { child, exited, metrics, stderr: () => stderr };
}

async function upload(h: BatchHarness, lines: string[]): Promise<string> {
  const file = await h.client.files.create({
    file: new File([jsonl(lines)], "input.jsonl", { type: "application/jsonl" }),
    purpose: "batch",
  });
  return file.id;
}

async function outputIds(h: BatchHarness, fileId: string): Promise<string[]> {
  const text = await (await h.client.files.content(fileId)).text();
  return text
    .trim()
    .split("\n")
    .map((line) => (JSON.parse(line) as { custom_id: string }).custom_id);
}

async function batchUsage(h: BatchHarness): Promise<Record<string, number>> {
  const rows = await h.server.ctx.db.query<{ model: string; n: number }>(
    `SELECT "model", count(*)::int AS n FROM "usage_records" WHERE "route" = '/v1/batches' GROUP BY "model"`,
    [],
  );
  return Object.fromEntries(rows.map((r) => [r.model, r.n]));
}

describe.runIf(drivers.includes("postgres"))("switchyard batch-worker beside serve (PostgreSQL)", () => {
  let h: BatchHarness;
  beforeAll(async () => {
    h = await startBatchHarness({ driver: "postgres", extraConfig: "  runInServe: false" });
  }, 90_000);
  afterAll(async () => h?.close());

  it("runs the batches serve accepts; a second worker resumes one whose worker was killed", async () => {
    expect(h.server.ctx.batches.worker).toBeUndefined();
    const first = startWorker(h);
    try {
      const metricsUrl = await first.metrics;
      const fast = await h.client.batches.create({
        input_file_id: await upload(
          h,
          Array.from({ length: 300 }, (_, i) => chatLine(i)),
        ),
        endpoint: "/v1/chat/completions",
        completion_window: "24h",
      });
      const done = await h.waitFor(fast.id, ["completed", "failed"], 60_000);
      expect(done).toMatchObject({ status: "completed", request_counts: { total: 300, completed: 300, failed: 0 } });
      const ids = await outputIds(h, done.output_file_id);
      expect(new Set(ids).size).toBe(300);
      expect(ids[0]).toBe("req-0");
      const metrics = await (await fetch(`${metricsUrl}/metrics`)).text();
      expect(metrics).toMatch(/switchyard_batch_requests_total\{[^}]*outcome="completed"[^}]*\} 300/);

      // Its usage rows reach the gateway's table within the recorder's flush interval (2 s).
      await expect.poll(() => batchUsage(h), { timeout: 10_000, interval: 200 }).toMatchObject({ "org/batchy": 300 });

      // A slow model, so the batch is mid-way when its worker dies by SIGKILL.
      const slow = await h.client.batches.create({
        input_file_id: await upload(
          h,
          Array.from({ length: 60 }, (_, i) => chatLine(i, "org/slow")),
        ),
        endpoint: "/v1/chat/completions",
        completion_window: "24h",
      });
      const until = Date.now() + 60_000;
      for (;;) {
        const { json } = await h.api("GET", `/v1/batches/${slow.id}`);
        if (json.request_counts.completed >= 8) break;
        if (Date.now() > until) throw new Error(`batch did not start: ${JSON.stringify(json)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      first.child.kill("SIGKILL");
      await first.exited;
    } finally {
      first.child.kill("SIGKILL");
    }
    const second = startWorker(h);
    try {
      await second.metrics;
      const batches = await h.client.batches.list();
      const slowId = batches.data.find((b) => b.status !== "completed")?.id ?? "";
      const done = await h.waitFor(slowId, ["completed", "failed"], 60_000);
      expect(done).toMatchObject({ status: "completed", request_counts: { total: 60, completed: 60, failed: 0 } });
      const ids = await outputIds(h, done.output_file_id);
      expect(ids).toEqual(Array.from({ length: 60 }, (_, i) => `req-${i}`));
    } finally {
      second.child.kill("SIGTERM");
      expect(await second.exited).toBe(0);
    }
    // The second worker flushed its usage at shutdown.
    expect((await batchUsage(h))["org/slow"]).toBeGreaterThan(0);
  }, 180_000);

  it("refuses to start without PostgreSQL, saying why", async () => {
    const worker = startWorker(h, {});
    await expect(worker.metrics).rejects.toThrow(/needs PostgreSQL \(set DATABASE_URL\)/);
    expect(await worker.exited).toBe(1);
    expect(readFileSync(`${h.dataDir}/switchyard.yaml`, "utf8")).toContain("runInServe: false");
  });
});
