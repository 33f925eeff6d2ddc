import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import type OpenAI from "openai";
import { type RunningServer, startServer } from "../src";
import { createLogger } from "../src/logger";

/** A logger that keeps its JSON lines, so tests can assert on what was logged. */
export function memoryLogger() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  });
  return { logger: createLogger({ level: "info", pretty: false, destination }), lines };
}

export const ADMIN_PASSWORD = "admin-password-for-tests";

/** An access token from the password grant (the built-in issuer), for tests that call protected routes. */
export async function passwordToken(baseUrl: string, username = "admin", password = ADMIN_PASSWORD): Promise<string> {
  const res = await fetch(`${baseUrl}/auth/token`, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "password", username, password }),
  });
  const body = (await res.json()) as { access_token?: string; error?: string };
  if (!body.access_token) throw new Error(`password grant failed: ${JSON.stringify(body)}`);
  return body.access_token;
}

/** A fresh directory for a test server's data (logs of launched servers go there). */
export function tempDataDir(): string {
  return mkdtempSync(path.join(tmpdir(), "sy-server-"));
}

/**
 * `serve` in-process on an ephemeral port with `config` (YAML) and an in-memory database: what the
 * fault and engine tests start. `logger` keeps what it logs (default: a memory logger).
 */
export async function serveWithConfig(
  config: string,
  options: { logger?: ReturnType<typeof memoryLogger>["logger"]; batchWorker?: boolean } = {},
): Promise<RunningServer> {
  const dataDir = tempDataDir();
  const configFile = path.join(dataDir, "switchyard.yaml");
  writeFileSync(configFile, config);
  return startServer({
    port: 0,
    host: "127.0.0.1",
    dataDir,
    configFile,
    inMemoryDatabase: true,
    logger: options.logger ?? memoryLogger().logger,
    ...(options.batchWorker === undefined ? {} : { batchWorker: options.batchWorker }),
    env: { SWITCHYARD_ADMIN_PASSWORD: ADMIN_PASSWORD },
  });
}

/** `GET /metrics` as an admin (it is private by default). */
export async function scrapeMetrics(baseUrl: string): Promise<string> {
  const res = await fetch(`${baseUrl}/metrics`, {
    headers: { authorization: `Bearer ${await passwordToken(baseUrl)}` },
  });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}

/**
 * `count` chat requests to `model`, one every 50 ms (20 a second), each answered or failed on its
 * own; `at(i)` runs just before request i is sent (a test kills something there). Resolves
 * with what each got ("ok", or why not) and the slowest answer's time in ms.
 */
export async function steadyChat(
  client: OpenAI,
  model: string,
  count: number,
  at: (i: number) => void = () => {},
): Promise<{ results: string[]; slowest: number }> {
  const outcomes: Promise<string>[] = [];
  let slowest = 0;
  for (let i = 0; i < count; i++) {
    at(i);
    const sent = performance.now();
    outcomes.push(
      client.chat.completions
        .create({ model, messages: [{ role: "user", content: `question ${i}` }], max_tokens: 8 })
        .then(
          (answer) => {
            slowest = Math.max(slowest, performance.now() - sent);
            return answer.choices[0]?.message.content ? "ok" : "empty";
          },
          (error: Error) => `${i}: ${error.message}`,
        ),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { results: await Promise.all(outcomes), slowest };
}
