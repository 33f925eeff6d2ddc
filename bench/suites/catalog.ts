import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { createLogger, startServer } from "@switchyard/server";
import { closedLoop, type Row, round, type Suite } from "../lib";

/** `GET /v1/models` (catalog, access policy, statuses from the scheduler) next to `GET /health` (a database ping). */
export const catalog: Suite = {
  name: "catalog",
  description: "GET /v1/models (authenticated) vs GET /health on the embedded server (in-memory PGlite), 8 in flight",
  async run() {
    const quiet = createLogger({
      level: "warn",
      pretty: false,
      destination: new Writable({ write: (_c, _e, done) => done() }),
    });
    const server = await startServer({
      port: 0,
      host: "127.0.0.1",
      dataDir: mkdtempSync(path.join(tmpdir(), "sy-bench-")),
      inMemoryDatabase: true,
      schedulerAutoTick: false,
      logger: quiet,
      env: { SWITCHYARD_ADMIN_PASSWORD: "bench-password" },
    });
    try {
      const grant = await fetch(`${server.url}/auth/token`, {
        method: "POST",
        body: new URLSearchParams({ grant_type: "password", username: "admin", password: "bench-password" }),
      });
      const { access_token: token } = (await grant.json()) as { access_token: string };
      const get = (route: string) => async () => {
        const res = await fetch(`${server.url}${route}`, { headers: { authorization: `Bearer ${token}` } });
        if (!res.ok) throw new Error(`${route}: ${res.status}`);
        await res.arrayBuffer();
      };
      await closedLoop(get("/health"), 300, 8);
      await closedLoop(get("/v1/models"), 300, 8);
      const health = await closedLoop(get("/health"), 3000, 8);
      const models = await closedLoop(get("/v1/models"), 3000, 8);
      const rows: Row[] = [
        {
          suite: "catalog",
          case: `GET /v1/models (${server.ctx.config.models.length} models)`,
          baseline: "GET /health",
          metric: "req/s",
          unit: "req/s",
          value: round(models.perSecond, 0),
          baselineValue: round(health.perSecond, 0),
          ratio: round(models.perSecond / health.perSecond, 3),
          note: `p50 ${round(models.p50)} ms vs ${round(health.p50)} ms; p99 ${round(models.p99)} ms vs ${round(health.p99)} ms`,
        },
      ];
      return rows;
    } finally {
      await server.close();
    }
  },
};
