import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { AuthService, accessGuard, createApiKey, createUser, principalOf } from "@switchyard/auth";
import { AuthSchema, systemClock } from "@switchyard/core";
import { openDatabase } from "@switchyard/db";
import { RouteTable } from "@switchyard/http";
import express from "express";
import { pino } from "pino";
import { type Row, round, type Suite } from "../lib";
import { type LoadResult, loadTest } from "../load";

/**
 * What authentication adds to a request once the credential is cached: the same tiny route
 * without auth, with an API key and with a built-in JWT, on one server, one run.
 */
export const auth: Suite = {
  name: "auth",
  description:
    "route without auth vs cached API key vs cached JWT (autocannon, 16 connections, 3 interleaved rounds of 5 s)",
  async run() {
    const db = await openDatabase({ driver: "pglite" });
    await db.migrate();
    const quiet = pino({ level: "silent" }, new Writable({ write: (_c, _e, done) => done() }));
    let url = "";
    const service = await AuthService.create({
      db: db.prisma,
      settings: AuthSchema.parse({}),
      clock: systemClock,
      logger: quiet,
      issuer: () => url,
    });
    const user = await createUser(db.prisma, { username: "bench", password: "bench-password" });
    const { key } = await createApiKey(db.prisma, { userId: user.id });

    const app = express();
    const router = express.Router();
    const routes = new RouteTable(accessGuard(service));
    routes.add(router, { method: "GET", path: "/open", access: "public", summary: "no auth" }, (_req, res) => {
      res.json({ ok: true });
    });
    routes.add(router, { method: "GET", path: "/guarded", access: "user", summary: "auth" }, (_req, res) => {
      res.json({ ok: principalOf(res).username === "bench" });
    });
    app.use(router);
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // Issued once the issuer URL (the listening address) is known.
    const jwt = (await service.issueTokens(user.id, { clientId: "bench", scope: "", authTime: new Date() }))
      .access_token;
    try {
      const cases = {
        open: { url: `${url}/open` },
        key: { url: `${url}/guarded`, headers: { authorization: `Bearer ${key}` } },
        jwt: { url: `${url}/guarded`, headers: { authorization: `Bearer ${jwt}` } },
      };
      for (const c of Object.values(cases)) await loadTest({ ...c, durationSeconds: 1 }); // warm every path up
      // Interleaved rounds, averaged, so drift during the run hits every case alike; how far the
      // rounds spread is the noise a difference must beat.
      type Round = Record<keyof typeof cases, LoadResult>;
      const rounds: Round[] = [];
      for (let round = 0; round < 3; round++) {
        rounds.push({
          open: await loadTest(cases.open),
          key: await loadTest(cases.key),
          jwt: await loadTest(cases.jwt),
        });
      }
      const mean = (pick: (r: Round) => LoadResult) => ({
        requestsPerSecond: rounds.reduce((sum, r) => sum + pick(r).requestsPerSecond, 0) / rounds.length,
        /** µs per request in each round (1e6 / req/s: what one request costs at saturation). */
        costs: rounds.map((r) => 1e6 / pick(r).requestsPerSecond),
        p99: Math.max(...rounds.map((r) => pick(r).p99)),
        errors: rounds.reduce((sum, r) => sum + pick(r).errors, 0),
        non2xx: rounds.reduce((sum, r) => sum + pick(r).non2xx, 0),
      });
      const open = mean((r) => r.open);
      const withKey = mean((r) => r.key);
      const withJwt = mean((r) => r.jwt);
      const rows: Row[] = [];
      for (const [name, result] of [
        ["cached API key", withKey],
        ["cached JWT", withJwt],
      ] as const) {
        if (result.non2xx > 0 || result.errors > 0)
          throw new Error(`${name}: ${result.non2xx} non-2xx, ${result.errors} errors`);
        // What auth adds per request, against how far the rounds of each case spread. A cost is
        // never negative, so a difference below the spread (negative ones included) is noise;
        // the in-process rows below measure the guard's own cost.
        const added = 1e6 / result.requestsPerSecond - 1e6 / open.requestsPerSecond;
        const range = (costs: number[]) => Math.max(...costs) - Math.min(...costs);
        const spread = Math.max(range(result.costs), range(open.costs));
        const cost =
          added <= spread
            ? `added cost within noise (rounds spread ${round(spread, 1)} µs per request)`
            : `≈${round(added, 1)} µs added per request (rounds spread ${round(spread, 1)} µs)`;
        rows.push({
          suite: "auth",
          case: `GET with ${name}`,
          baseline: "same route, no auth",
          metric: "req/s",
          unit: "req/s",
          value: round(result.requestsPerSecond, 0),
          baselineValue: round(open.requestsPerSecond, 0),
          ratio: round(result.requestsPerSecond / open.requestsPerSecond, 3),
          note: `${cost}; p99 ${result.p99} ms vs ${open.p99} ms`,
        });
      }
      // The guard's own cost, without HTTP around it, next to what a whole unauthenticated request costs.
      const header = `Bearer ${key}`;
      const jwtHeader = `Bearer ${jwt}`;
      const requestCostUs = 1e6 / open.requestsPerSecond;
      let sink = 0;
      const keyOps = await asyncOps(async () => {
        sink += (await service.authenticate(header)).username.length;
      });
      const jwtOps = await asyncOps(async () => {
        sink += (await service.authenticate(jwtHeader)).username.length;
      });
      if (sink === 0) throw new Error("unreachable");
      for (const [name, ops] of [
        ["authenticate() cached API key", keyOps],
        ["authenticate() cached JWT", jwtOps],
      ] as const) {
        rows.push({
          suite: "auth",
          case: name,
          baseline: "a whole no-auth request (CPU µs at saturation)",
          metric: "µs/request",
          unit: "µs",
          value: round(1e6 / ops, 2),
          baselineValue: round(requestCostUs, 1),
          ratio: round(1e6 / ops / requestCostUs, 4),
          note: "in-process; target < 20 µs",
        });
      }
      return rows;
    } finally {
      server.closeAllConnections();
      server.close();
      await service.close();
      await db.close();
    }
  },
};

async function asyncOps(fn: () => Promise<void>, budgetMs = 1000): Promise<number> {
  for (let i = 0; i < 1000; i++) await fn();
  let ops = 0;
  const start = performance.now();
  while (performance.now() - start < budgetMs) {
    for (let i = 0; i < 200; i++) await fn();
    ops += 200;
  }
  return (ops * 1000) / (performance.now() - start);
}
