import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createPostgresDatabase, type TestDriver, testDrivers } from "@switchyard/db/testing";
import { startSimulator } from "@switchyard/engines";
import { freePort } from "@switchyard/scheduler";
import { describe, expect, it } from "vitest";
import { chatLine, jsonl } from "./batch-harness";
import { ADMIN_PASSWORD, passwordToken, tempDataDir } from "./helpers";

const BIN = fileURLToPath(new URL("../bin/switchyard-source.mjs", import.meta.url));
const drivers = await testDrivers();
const LINES = 6000;
const KILLS = 6;

function serve(port: number, dataDir: string, config: string, databaseUrl?: string): ChildProcess {
  return spawn(process.execPath, [BIN, "serve", "--port", String(port), "--data-dir", dataDir, "--config", config], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      SWITCHYARD_LOG_FORMAT: "json",
      SWITCHYARD_LOG_LEVEL: "warn",
      SWITCHYARD_ADMIN_PASSWORD: ADMIN_PASSWORD,
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
}

async function healthy(url: string, child: ChildProcess): Promise<void> {
  const until = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`serve exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) throw new Error("serve did not come up");
    await new Promise((r) => setTimeout(r, 50));
  }
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

// The two drivers' runs share nothing (own port, data dir, database and model server): they run
// side by side, each mostly waiting for its server to start again.
describe.concurrent.each(drivers)(
  "a batch survives kill -9 of its worker, again and again (%s)",
  (driver: TestDriver) => {
    // Each restart opens the database and starts serving again: minutes on a loaded machine.
    it(`ends with every one of ${LINES} custom_ids exactly once after ${KILLS} kills at random moments`, {
      timeout: 300_000,
    }, async () => {
      // The model server lives outside the process being killed (an external engine), paced so
      // the batch takes a few seconds and the kills land mid-run.
      await using sim = await startSimulator({
        model: "org/steady",
        timeToFirstToken: 0.01,
        tokensPerSecond: 800,
        logLevel: "silent",
      });
      const dataDir = tempDataDir();
      const shared = path.join(dataDir, "shared");
      mkdirSync(shared);
      const config = path.join(dataDir, "switchyard.yaml");
      writeFileSync(
        config,
        `batch: { checkpointInterval: 200ms }
clusters:
  - name: lab
    nodes: [{ name: n1, gpus: 1, role: hot }]
    frameworks: [vllm]
    batch: { allowedDirs: ["${shared}"] }
models:
  - { id: org/steady, cluster: lab, framework: vllm, capabilities: [chat, batch], placement: hot, node: n1, engine: { type: external, url: "${sim.url}" } }
`,
      );
      const input = path.join(shared, "work.jsonl");
      writeFileSync(
        input,
        jsonl(Array.from({ length: LINES }, (_, i) => chatLine(i, "org/steady", { max_tokens: 8 }))),
      );
      const pg = driver === "postgres" ? await createPostgresDatabase() : undefined;
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      let child = serve(port, dataDir, config, pg?.url);
      try {
        await healthy(url, child);
        const token = await passwordToken(url);
        const api = async (method: string, route: string, body?: unknown) => {
          const res = await fetch(`${url}${route}`, {
            method,
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
            ...(body ? { body: JSON.stringify(body) } : {}),
          });
          return (await res.json()) as any;
        };
        const created = await api("POST", "/resource_server/v1/batches", { model: "org/steady", input_file: input });
        const id = created.batch_id as string;
        expect(id).toMatch(/^batch_/);

        const seen: number[] = [];
        for (let kill = 0; kill < KILLS; kill++) {
          // Random moments: some during start-up and resume, most while requests are in flight.
          await new Promise((r) => setTimeout(r, 150 + Math.random() * 900));
          let progress = await api("GET", `/v1/batches/${id}`).catch(() => undefined);
          // On a loaded machine a restarted server can take longer to resume than the random
          // wait: if no kill has landed mid-run yet, the last one waits for the first answers.
          const lastKill = kill === KILLS - 1 && !seen.some((c) => c > 0);
          for (const until = Date.now() + 60_000; lastKill && Date.now() < until; ) {
            if (progress && progress.request_counts.completed > 0) break;
            await new Promise((r) => setTimeout(r, 50));
            progress = await api("GET", `/v1/batches/${id}`).catch(() => undefined);
          }
          if (progress) seen.push(progress.request_counts.completed);
          await killed(child);
          child = serve(port, dataDir, config, pg?.url);
          await healthy(url, child);
        }
        // Then let it finish.
        const until = Date.now() + 120_000;
        let final: any;
        for (;;) {
          final = await api("GET", `/v1/batches/${id}`);
          if (final.status === "completed" || final.status === "failed") break;
          if (Date.now() > until) throw new Error(`still ${final.status}: ${JSON.stringify(final.request_counts)}`);
          await new Promise((r) => setTimeout(r, 100));
        }
        expect(final.status).toBe("completed");
        expect(final.request_counts).toEqual({ total: LINES, completed: LINES, failed: 0 });
        // Kills landed mid-run (not all before the first answer, not all after the last).
        expect(seen.some((c) => c > 0 && c < LINES)).toBe(true);
        console.log(`${driver}: answers counted before each kill: ${seen.join(", ")}`);

        const detail = await api("GET", `/resource_server/v1/batches/${id}`);
        const text = readFileSync(detail.results_file, "utf8");
        expect(text.endsWith("\n")).toBe(true);
        const ids = text
          .trimEnd()
          .split("\n")
          .map((line) => JSON.parse(line).custom_id as string); // a torn line would throw here
        expect(ids).toHaveLength(LINES);
        expect(new Set(ids).size).toBe(LINES);
        expect(ids).toEqual(Array.from({ length: LINES }, (_, i) => `req-${i}`));
        expect(readFileSync(detail.errors_file, "utf8")).toBe("");
      } finally {
        await killed(child);
        await pg?.drop();
      }
    });
  },
);
